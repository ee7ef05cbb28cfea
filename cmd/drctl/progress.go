package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progressBar draws one line on stderr per long step, redrawn in place at
// most every redrawEvery, so a 100,000-object copy does not flood a
// terminal.
type progressBar struct {
	w   io.Writer
	now func() time.Time

	mu                 sync.Mutex
	step               string
	total, totalBytes  int64
	done, doneBytes    int64
	started, lastDrawn time.Time
}

const (
	redrawEvery = 100 * time.Millisecond
	barWidth    = 30
)

func newProgressBar(w io.Writer, now func() time.Time) *progressBar {
	return &progressBar{w: w, now: now}
}

func (p *progressBar) Start(step string, total, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.step, p.total, p.totalBytes, p.done, p.doneBytes = step, total, bytes, 0, 0
	p.started = p.now()
	p.draw()
}

func (p *progressBar) Add(items, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += items
	p.doneBytes += bytes
	if p.now().Sub(p.lastDrawn) >= redrawEvery {
		p.draw()
	}
}

func (p *progressBar) Done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}

// draw renders the line; the caller holds mu. "\r\x1b[K" returns to the
// line's start and erases it, so a shorter line leaves nothing behind.
func (p *progressBar) draw() {
	p.lastDrawn = p.now()
	spent := p.lastDrawn.Sub(p.started)
	elapsed := spent.Round(time.Second)
	switch {
	case p.total <= 0 && p.done == 0:
		fmt.Fprintf(p.w, "\r\x1b[K%-22s waiting  %s", p.step, elapsed)
		return
	case p.total <= 0:
		fmt.Fprintf(p.w, "\r\x1b[K%-22s %d done  %s", p.step, p.done, elapsed)
		return
	}
	filled := int(int64(barWidth) * min(p.done, p.total) / p.total)
	bar := strings.Repeat("=", filled) + strings.Repeat(" ", barWidth-filled)
	fmt.Fprintf(p.w, "\r\x1b[K%-22s [%s] %d/%d  %s/%s  %s  %s", p.step, bar, p.done, p.total, mib(p.doneBytes), mib(p.totalBytes), rateAndETA(p.done, p.total, spent), elapsed)
}

// rateAndETA is the items per second so far and the time the rest takes
// at that rate, e.g. "120/s, ETA 1m05s"; "ETA --" before there is a rate.
func rateAndETA(done, total int64, spent time.Duration) string {
	if done <= 0 || spent <= 0 {
		return "0/s, ETA --"
	}
	rate := float64(done) / spent.Seconds()
	left := time.Duration(float64(max(total-done, 0)) / rate * float64(time.Second)).Round(time.Second)
	return fmt.Sprintf("%.0f/s, ETA %s", rate, left)
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
