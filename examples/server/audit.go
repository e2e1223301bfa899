package main

import (
	"context"
	"slices"
	"sync"

	"github.com/teamscim/teamscim"
)

// auditLog keeps the latest audit events in memory for the settings pages' audit trail: a
// ring buffer that is the demo's EventSink. A host keeps its audit trail in its own store.
type auditLog struct {
	mu     sync.Mutex
	events []teamscim.Event // a ring of at most cap(events), oldest at next once full
	next   int
}

// auditKeep is how many events the demo keeps.
const auditKeep = 1000

func newAuditLog(n int) *auditLog { return &auditLog{events: make([]teamscim.Event, 0, n)} }

// Event implements teamscim.EventSink.
func (l *auditLog) Event(_ context.Context, e teamscim.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.events) < cap(l.events) {
		l.events = append(l.events, e)
		return
	}
	l.events[l.next] = e
	l.next = (l.next + 1) % len(l.events)
}

// latest returns at most n of the kept events of the team, newest first, of type typ (all
// types when it is empty), and the types of all kept events of the team, sorted.
func (l *auditLog) latest(teamID string, typ teamscim.EventType, n int) (events []teamscim.Event, types []teamscim.EventType) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.events {
		e := l.events[(l.next+len(l.events)-1-i)%len(l.events)] // newest first
		if e.TeamID != teamID {
			continue
		}
		if !slices.Contains(types, e.Type) {
			types = append(types, e.Type)
		}
		if (typ == "" || e.Type == typ) && len(events) < n {
			events = append(events, e)
		}
	}
	slices.Sort(types)
	return events, types
}
