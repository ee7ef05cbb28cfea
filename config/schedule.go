package config

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Schedule expressions as EventBridge Scheduler reads them ("Schedule types
// on EventBridge Scheduler", https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html,
// and CreateSchedule's ScheduleExpression in the API reference):
//
//   - rate(value unit): value a positive integer, unit minute | minutes |
//     hour | hours | day | days. EventBridge's own rate rules require the
//     singular for 1 and the plural otherwise; we ask for the same, which
//     Scheduler accepts in every case.
//   - cron(minutes hours day-of-month month day-of-week year): six fields,
//     with the ranges and wildcards of the table below, and exactly one of
//     day-of-month and day-of-week set to "?".
//   - at(yyyy-mm-ddThh:mm:ss) is a one-time schedule; a nightly job cannot
//     use it, so it is refused with that reason.

// cronField describes one field of a Scheduler cron expression.
type cronField struct {
	name      string
	lo, hi    int
	names     []string // JAN..DEC or SUN..SAT, numbered from lo
	wildcards string   // allowed beyond digits, names, "," "-" "*" "/"
}

var cronFields = []cronField{
	{name: "minutes", lo: 0, hi: 59},
	{name: "hours", lo: 0, hi: 23},
	{name: "day-of-month", lo: 1, hi: 31, wildcards: "?LW"},
	{name: "month", lo: 1, hi: 12, names: []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}},
	{name: "day-of-week", lo: 1, hi: 7, names: []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}, wildcards: "?L#"},
	{name: "year", lo: 1970, hi: 2199},
}

var (
	ratePattern = regexp.MustCompile(`^rate\(([0-9]+) (minute|minutes|hour|hours|day|days)\)$`)
	// dayOfMonthSpecial: L (last day), W (nearest weekday, e.g. 15W or LW).
	dayOfMonthSpecial = regexp.MustCompile(`^(L|LW|[0-9]{1,2}W)$`)
	// dayOfWeekSpecial: 5L (last Thursday), 3#2 (second Tuesday), L.
	dayOfWeekSpecial = regexp.MustCompile(`^(L|([1-7]|[A-Z]{3})L|([1-7]|[A-Z]{3})#[1-5])$`)
)

// ValidateSchedule checks a recurring Scheduler expression and returns what
// is wrong with it, or nil.
func ValidateSchedule(expr string) error {
	switch {
	case strings.HasPrefix(expr, "rate("):
		m := ratePattern.FindStringSubmatch(expr)
		if m == nil {
			return fmt.Errorf("a rate expression is rate(value unit) with a positive whole value and a unit of minute(s), hour(s) or day(s)")
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 {
			return fmt.Errorf("the rate value must be a positive whole number")
		}
		plural := strings.HasSuffix(m[2], "s")
		if n == 1 && plural {
			return fmt.Errorf("write rate(1 %s) with the unit in the singular", strings.TrimSuffix(m[2], "s"))
		}
		if n > 1 && !plural {
			return fmt.Errorf("write rate(%d %ss) with the unit in the plural", n, m[2])
		}
		return nil
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		fields := strings.Split(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"), " ")
		if len(fields) != len(cronFields) {
			return fmt.Errorf("a cron expression has six fields separated by single spaces (minutes hours day-of-month month day-of-week year), got %d", len(fields))
		}
		for i, f := range cronFields {
			if err := f.check(fields[i]); err != nil {
				return err
			}
		}
		if (fields[2] == "?") == (fields[4] == "?") {
			return fmt.Errorf("exactly one of day-of-month and day-of-week must be ?, e.g. cron(30 1 * * ? *)")
		}
		return nil
	case strings.HasPrefix(expr, "at("):
		return fmt.Errorf("at(...) runs once; the nightly job needs a recurring cron(...) or rate(...) expression")
	}
	return fmt.Errorf("a schedule is cron(...) or rate(...)")
}

func (f cronField) check(field string) error {
	bad := func(why string) error {
		return fmt.Errorf("cron field %s %q: %s", f.name, field, why)
	}
	if field == "?" {
		if !strings.Contains(f.wildcards, "?") {
			return bad("? is only allowed in day-of-month and day-of-week")
		}
		return nil
	}
	for _, part := range strings.Split(field, ",") {
		if part == "" {
			return bad("empty list item")
		}
		if (strings.ContainsAny(part, "LW") && f.name == "day-of-month" && dayOfMonthSpecial.MatchString(part)) ||
			(f.name == "day-of-week" && strings.ContainsAny(part, "L#") && dayOfWeekSpecial.MatchString(part)) {
			continue
		}
		base, step, hasStep := strings.Cut(part, "/")
		if hasStep {
			if f.name == "day-of-week" {
				return bad("/ is not allowed in day-of-week")
			}
			if n, err := strconv.Atoi(step); err != nil || n < 1 {
				return bad("the increment after / must be a positive whole number")
			}
		}
		if base == "*" {
			continue
		}
		lo, hi, isRange := strings.Cut(base, "-")
		if err := f.value(lo); err != nil {
			return bad(err.Error())
		}
		if isRange {
			if err := f.value(hi); err != nil {
				return bad(err.Error())
			}
		}
	}
	return nil
}

// value checks one number or name of the field.
func (f cronField) value(v string) error {
	if slices.Contains(f.names, v) {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < f.lo || n > f.hi {
		allowed := fmt.Sprintf("%d-%d", f.lo, f.hi)
		if len(f.names) > 0 {
			allowed += " or " + f.names[0] + "-" + f.names[len(f.names)-1]
		}
		return fmt.Errorf("%q is not a value: use %s, * or the field's wildcards", v, allowed)
	}
	return nil
}

// SchedulePeriod bounds the longest gap between two runs of a recurring
// Scheduler expression (one ValidateSchedule accepts), for alarms that
// expect the next run: rate(n unit) exactly; a cron with both day fields
// open, a day; with a day of the week, a week, or five weeks for "the n-th"
// or "the last" weekday of a month (#, L); with a day of the month, 31 days
// (its W form moves a run by up to two days, so 33). A cron limited to some
// months or years has no such bound here and is refused.
func SchedulePeriod(expr string) (time.Duration, error) {
	if m := ratePattern.FindStringSubmatch(expr); m != nil {
		n, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}[strings.TrimSuffix(m[2], "s")]
		return time.Duration(n) * unit, nil
	}
	fields := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(expr, "cron("), ")"))
	if len(fields) != 6 {
		return 0, fmt.Errorf("not a rate or cron expression")
	}
	open := func(f string) bool { return f == "*" || f == "?" }
	dayOfMonth, month, dayOfWeek, year := fields[2], fields[3], fields[4], fields[5]
	switch {
	case !open(month) || !open(year):
		return 0, fmt.Errorf("a schedule limited to some months or years leaves gaps too long for the restore test's overdue alarm: run it at least monthly (cron with month and year *)")
	case open(dayOfMonth) && open(dayOfWeek):
		return 24 * time.Hour, nil
	case !open(dayOfWeek) && strings.ContainsAny(dayOfWeek, "#L"):
		return 35 * 24 * time.Hour, nil
	case !open(dayOfWeek):
		return 7 * 24 * time.Hour, nil
	case strings.Contains(dayOfMonth, "W"):
		return 33 * 24 * time.Hour, nil
	}
	return 31 * 24 * time.Hour, nil
}
