package partition

// recentSet remembers at most limit strings, forgetting the least recently
// used half at a time: two generations of maps, where a hit in the older one
// moves the entry to the current one. O(1) per operation, no per-entry links.
type recentSet struct {
	limit             int
	current, previous map[string]struct{}
}

func newRecentSet(limit int) *recentSet {
	return &recentSet{limit: limit, current: map[string]struct{}{}, previous: map[string]struct{}{}}
}

func (s *recentSet) contains(k string) bool {
	if _, ok := s.current[k]; ok {
		return true
	}
	if _, ok := s.previous[k]; ok {
		s.add(k)
		return true
	}
	return false
}

func (s *recentSet) add(k string) {
	if _, ok := s.current[k]; ok {
		return
	}
	if len(s.current) >= s.limit/2 {
		s.previous, s.current = s.current, make(map[string]struct{}, s.limit/2)
	}
	s.current[k] = struct{}{}
}

func (s *recentSet) len() int { return len(s.current) + len(s.previous) }
