package tablerestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/dr-analytics/drplan/internal/naming"
	"github.com/dr-analytics/drplan/internal/recoverytime"
)

// recordParameter keeps the failover's measured times.
var recordParameter = naming.Names{Prefix: "dr-analytics", Account: account}.FailoverRecordParameter()

func TestTheFailoverRecordHoldsTheStartTheRestorePointAndWhenTheTableWasActive(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "")
	w.h.FailoverRecordParameter = recordParameter
	w.primaryHasPITR(probeLatest)
	w.dynamo.SetClock(restoredTo)
	start, poll := mustWait(t, w, properties(nil), nil)
	read := func() recoverytime.Failover {
		t.Helper()
		rec, err := recoverytime.ReadFailover(ctx, w.ssm.Client(), recordParameter)
		if err != nil || rec == nil {
			t.Fatalf("ReadFailover = %v, %v", rec, err)
		}
		return *rec
	}

	rec := read()
	point, _ := time.Parse(time.RFC3339, start.Data["PointInTime"])
	if rec.StartedAt == nil || !rec.StartedAt.Equal(failoverAt.Truncate(time.Second)) || rec.RestoreSource != "pitr" ||
		rec.RestorePointInTime == nil || !rec.RestorePointInTime.Equal(point) || rec.TableActiveAt != nil {
		t.Fatalf("after the start: %+v; want started %s, pitr to %s, table not ACTIVE yet", rec, failoverAt, point)
	}
	if rpo, ok := rec.RPO(); !ok || rpo != failoverAt.Truncate(time.Second).Sub(point) {
		t.Errorf("RPO = %s, %v", rpo, ok)
	}

	w.advance(20 * time.Minute)
	w.dynamo.SetTableStatus(tableName, "ACTIVE")
	if got, err := w.h.IsComplete(ctx, poll); err != nil || !got.IsComplete {
		t.Fatalf("once ACTIVE: IsComplete = %v, %v", got.IsComplete, err)
	}
	rec = read()
	if rto, ok := rec.TableRTO(); !ok || rto != 20*time.Minute {
		t.Errorf("TableRTO = %s, %v; want 20m0s (record %+v)", rto, ok, rec)
	}

	t.Run("a later poll keeps the first ACTIVE moment", func(t *testing.T) {
		w.advance(time.Hour)
		if _, err := w.h.IsComplete(ctx, poll); err != nil {
			t.Fatal(err)
		}
		if again := read(); !again.TableActiveAt.Equal(*rec.TableActiveAt) {
			t.Errorf("table ACTIVE moved to %s", again.TableActiveAt)
		}
	})
}
