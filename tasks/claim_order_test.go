package tasks

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestClaimOrderStrict checks that a pool without weights tries its
// queues in the order given, every claim, drawing no random number.
func TestClaimOrderStrict(t *testing.T) {
	t.Parallel()
	o := newClaimOrder([]string{"critical", "default", "low"}, nil)
	o.intN = func(int) int { t.Fatal("strict order drew a random number"); return 0 }
	var buf drawBuf
	for range 3 {
		if got := o.next(&buf); !slices.Equal(got, []string{"critical", "default", "low"}) {
			t.Fatalf("next() = %v, want [critical default low]", got)
		}
	}
}

// TestClaimOrderWeighted draws 100,000 orders of queues weighted 6:3:1
// from a seeded source and compares the share of each of the six orders
// with its Plackett-Luce probability: the first queue by weight among all,
// the second by weight among the rest. Among the queues that have tasks,
// the first of them is then each with its weight's share of theirs: with
// critical empty, default before low 3/4 of the time.
func TestClaimOrderWeighted(t *testing.T) {
	t.Parallel()
	queues := []string{"critical", "default", "low"}
	o := newClaimOrder(queues, map[string]int{"critical": 6, "default": 3, "low": 1})
	o.intN = rand.New(rand.NewPCG(1, 2)).IntN
	want := map[string]float64{ // each order's probability
		"critical default low": 6.0 / 10 * 3 / 4, "critical low default": 6.0 / 10 * 1 / 4,
		"default critical low": 3.0 / 10 * 6 / 7, "default low critical": 3.0 / 10 * 1 / 7,
		"low critical default": 1.0 / 10 * 6 / 9, "low default critical": 1.0 / 10 * 3 / 9,
	}
	const draws = 100_000
	seen := make(map[string]int)
	defaultFirst := 0 // of default and low
	var buf drawBuf
	for range draws {
		order := o.next(&buf)
		seen[strings.Join(order, " ")]++
		if slices.Index(order, "default") < slices.Index(order, "low") {
			defaultFirst++
		}
	}
	for order, p := range want {
		if got := float64(seen[order]) / draws; got < p-0.005 || got > p+0.005 {
			t.Errorf("order %s drawn %.4f of the time, want %.4f ± 0.005", order, got, p)
		}
	}
	if len(seen) != len(want) {
		t.Errorf("drew %d distinct orders (%v), want the 6 orders of 3 queues", len(seen), seen)
	}
	if got := float64(defaultFirst) / draws; got < 0.745 || got > 0.755 {
		t.Errorf("default before low %.4f of the time, want 0.75 ± 0.005", got)
	}
	if !slices.Equal(o.queues, queues) {
		t.Errorf("drawing changed the pool's queues to %v", o.queues)
	}
}

// TestClaimOrderAllocates checks that a draw allocates nothing once its
// loop's buffer has grown.
func TestClaimOrderAllocates(t *testing.T) {
	o := newClaimOrder([]string{"a", "b", "c"}, map[string]int{"a": 6, "b": 3, "c": 1})
	var buf drawBuf
	if n := testing.AllocsPerRun(100, func() { o.next(&buf) }); n != 0 {
		t.Errorf("a weighted draw allocates %.0f times, want 0", n)
	}
}

// BenchmarkClaimOrder measures a weighted draw of three queues' order,
// as each claim of a weighted pool makes.
func BenchmarkClaimOrder(b *testing.B) {
	o := newClaimOrder([]string{"a", "b", "c"}, map[string]int{"a": 6, "b": 3, "c": 1})
	var buf drawBuf
	for b.Loop() {
		o.next(&buf)
	}
}

func TestCheckQueues(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     PoolConfig
		queues  []string // Queues after withDefaults, when accepted
		wantErr string   // "" when accepted
	}{
		{"default", PoolConfig{}, []string{"default"}, ""},
		{"strict", PoolConfig{Queues: []string{"critical", "default", "low"}}, []string{"critical", "default", "low"}, ""},
		{"empty weights are strict", PoolConfig{Queues: []string{"a"}, Weights: map[string]int{}}, []string{"a"}, ""},
		{"weights alone", PoolConfig{Weights: map[string]int{"low": 1, "critical": 6, "b": 3, "a": 3}},
			[]string{"critical", "a", "b", "low"}, ""},
		{"weights in the order of Queues", PoolConfig{Queues: []string{"low", "critical"}, Weights: map[string]int{"critical": 1000, "low": 1}},
			[]string{"low", "critical"}, ""},
		{"strict twice", PoolConfig{Queues: []string{"a", "b", "a"}}, nil, `lists "a" twice`},
		{"bad name", PoolConfig{Queues: []string{"a b"}}, nil, "invalid queue name"},
		{"bad weighted name", PoolConfig{Weights: map[string]int{"a:b": 1}}, nil, "invalid queue name"},
		{"weight 0", PoolConfig{Weights: map[string]int{"a": 0, "b": 1}}, nil, `weight 0 of queue "a": want 1 to 1000`},
		{"weight negative", PoolConfig{Weights: map[string]int{"a": -1}}, nil, "want 1 to 1000"},
		{"weight 1001", PoolConfig{Weights: map[string]int{"a": 1001}}, nil, `weight 1001 of queue "a"`},
		{"a queue without weight", PoolConfig{Queues: []string{"a", "b"}, Weights: map[string]int{"a": 1}}, nil,
			`queue "b" has no weight: give every queue of PoolConfig.Queues a weight, or none`},
		{"a weight without queue", PoolConfig{Queues: []string{"a"}, Weights: map[string]int{"a": 1, "b": 1}}, nil,
			`weighs queue "b", which PoolConfig.Queues leaves out`},
		{"weighted twice", PoolConfig{Queues: []string{"a", "a"}, Weights: map[string]int{"a": 1}}, nil, `lists "a" twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg.withDefaults()
			err := cfg.checkQueues()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("checkQueues() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("checkQueues() = %v, want an error containing %q", err, tt.wantErr)
			case tt.wantErr == "" && !slices.Equal(cfg.Queues, tt.queues):
				t.Errorf("Queues = %v, want %v", cfg.Queues, tt.queues)
			}
		})
	}
}
