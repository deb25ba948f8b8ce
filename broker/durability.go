package broker

import (
	"bufio"
	"context"
	"fmt"
	"strings"
)

// Durability is what a Redis server keeps across a restart and what it may
// throw away: runq's promise that nothing accepted is lost is only as good
// as these settings.
type Durability struct {
	AOF            bool   // appendonly yes
	AOFFsync       string // appendfsync: always, everysec or no ("" when unknown)
	RDB            bool   // save rules are set (snapshots)
	EvictionPolicy string // maxmemory-policy; anything but noeviction may drop tasks
}

// Persistence describes what survives a restart: "aof (fsync always)",
// "rdb", "aof (fsync everysec) + rdb", or "none".
func (d Durability) Persistence() string {
	var parts []string
	if d.AOF {
		parts = append(parts, "aof (fsync "+d.AOFFsync+")")
	}
	if d.RDB {
		parts = append(parts, "rdb")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " + ")
}

// Evicts reports whether Redis may evict keys, and so lose tasks, when it
// reaches maxmemory.
func (d Durability) Evicts() bool {
	return d.EvictionPolicy != "" && d.EvictionPolicy != "noeviction"
}

// Durability reads the server's persistence and eviction settings from INFO
// (and CONFIG GET where it is allowed; managed Redis often forbids it, and
// then RDB and fsync are read from INFO alone). It fails on a server without
// INFO persistence, such as the embedded one.
func (b *Broker) Durability(ctx context.Context) (Durability, error) {
	info, err := b.rdb.Info(ctx, "persistence", "memory").Result()
	if err != nil {
		return Durability{}, fmt.Errorf("broker: read redis settings: %w", err)
	}
	fields := parseInfo(info)
	aof, ok := fields["aof_enabled"]
	if !ok {
		return Durability{}, fmt.Errorf("broker: read redis settings: INFO persistence has no aof_enabled")
	}
	d := Durability{AOF: aof == "1", EvictionPolicy: fields["maxmemory_policy"]}
	if cfg, err := b.rdb.ConfigGet(ctx, "save").Result(); err == nil {
		d.RDB = strings.TrimSpace(cfg["save"]) != ""
	} else {
		d.RDB = fields["rdb_last_bgsave_status"] == "ok" && fields["rdb_saves"] != "0" && fields["rdb_saves"] != ""
	}
	if cfg, err := b.rdb.ConfigGet(ctx, "appendfsync").Result(); err == nil {
		d.AOFFsync = cfg["appendfsync"]
	}
	if d.AOFFsync == "" {
		d.AOFFsync = "unknown"
	}
	return d, nil
}

// parseInfo reads the "key:value" lines of an INFO reply.
func parseInfo(info string) map[string]string {
	out := make(map[string]string)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, ":"); ok && !strings.HasPrefix(line, "#") {
			out[k] = v
		}
	}
	return out
}
