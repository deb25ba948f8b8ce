package wirejson

// The scanner's JSON syntax (RFC 8259, as encoding/json reads it): each
// method reads one piece at s.i and reports whether it was there; on false,
// s.i is left anywhere, as the scan is abandoned.

// space skips JSON whitespace: space, tab, line feed, carriage return.
func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// consume skips whitespace, then reads c if it comes next.
func (s *scanner) consume(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// end skips whitespace and reports whether the body ends there.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// key reads the object key name, exactly, and its colon.
func (s *scanner) key(name string) bool {
	s.space()
	raw, ok := s.plainString()
	return ok && string(raw) == name && s.consume(':')
}

// literal reads lit (true, false, null) if it comes next.
func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// plainString reads a string without escapes and returns its bytes between
// the quotes (not checked as UTF-8).
func (s *scanner) plainString() ([]byte, bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return s.b[start:j], true
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// skipString reads a string with any valid escapes. Like encoding/json, it
// takes bytes that are not UTF-8 (tasks.Request.Validate refuses them).
func (s *scanner) skipString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c < 0x20:
			return false
		case c == '\\':
			j++
			if j == len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if len(s.b)-j <= 4 {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// number reads a number and reports whether it is whole (no fraction, no
// exponent).
func (s *scanner) number() (whole, ok bool) {
	b, j := s.b, s.i
	if j < len(b) && b[j] == '-' {
		j++
	}
	switch {
	case j < len(b) && b[j] == '0':
		j++
	case j < len(b) && '1' <= b[j] && b[j] <= '9':
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	default:
		return false, false
	}
	whole = true
	if j < len(b) && b[j] == '.' {
		whole = false
		if j++; j == len(b) || !isDigit(b[j]) {
			return false, false
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		whole = false
		if j++; j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if j == len(b) || !isDigit(b[j]) {
			return false, false
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
	}
	s.i = j
	return whole, true
}

// skipValue reads any value, depth levels below the top of a payload.
func (s *scanner) skipValue(depth int) bool {
	if s.i == len(s.b) {
		return false
	}
	switch c := s.b[s.i]; {
	case c == '{' || c == '[':
		return depth < maxScanDepth && s.skipContainer(depth)
	case c == '"':
		return s.skipString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || isDigit(c):
		_, ok := s.number()
		return ok
	}
	return false
}

// skipContainer reads an object or an array, at its opening brace or
// bracket.
func (s *scanner) skipContainer(depth int) bool {
	closing := byte(']')
	if s.b[s.i] == '{' {
		closing = '}'
	}
	s.i++
	if s.consume(closing) {
		return true
	}
	for {
		s.space()
		if closing == '}' && (!s.skipString() || !s.consume(':')) {
			return false
		}
		s.space()
		if !s.skipValue(depth + 1) {
			return false
		}
		if s.consume(closing) {
			return true
		}
		if !s.consume(',') {
			return false
		}
	}
}
