package partition

import (
	"fmt"
	"testing"
)

func TestRecentSetIsBoundedAndKeepsWhatIsUsed(t *testing.T) {
	s := newRecentSet(10)
	s.add("hot")
	for i := range 100 {
		s.add(fmt.Sprint(i))
		if !s.contains("hot") {
			t.Fatalf("an entry looked up after every add was forgotten after %d adds", i+1)
		}
		if s.len() > 10 {
			t.Fatalf("set holds %d entries, limit 10", s.len())
		}
	}
	if s.contains("0") {
		t.Error("the oldest unused entry is still remembered")
	}
	if !s.contains("99") {
		t.Error("the newest entry is forgotten")
	}
}
