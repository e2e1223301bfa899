package memstore

import "slices"

// multiIndex maps a key (an externalId, a folded email) to the IDs of the users that have it.
// Keys are not unique, but nearly every key belongs to one user, so one ID is held inline and
// a set is made only for a key that several users share: an entry costs a map slot, not a map.
type multiIndex map[string]idGroup

// idGroup is the IDs that share a key: one inline, or all of them in more.
type idGroup struct {
	one  string
	more map[string]struct{}
}

// link records that id has key k.
func (m multiIndex) link(k, id string) {
	g, ok := m[k]
	switch {
	case !ok:
		m[k] = idGroup{one: id}
	case g.more != nil:
		g.more[id] = struct{}{}
	case g.one != id:
		m[k] = idGroup{more: map[string]struct{}{g.one: {}, id: {}}}
	}
}

// unlink records that id no longer has key k.
func (m multiIndex) unlink(k, id string) {
	g, ok := m[k]
	switch {
	case !ok:
	case g.more == nil:
		if g.one == id {
			delete(m, k)
		}
	default:
		delete(g.more, id)
		switch len(g.more) {
		case 0:
			delete(m, k)
		case 1:
			for last := range g.more {
				m[k] = idGroup{one: last}
			}
		}
	}
}

// has reports whether id has key k.
func (m multiIndex) has(k, id string) bool {
	g := m[k]
	if g.more == nil {
		return g.one == id && id != ""
	}
	_, ok := g.more[id]
	return ok
}

// ids appends the IDs that have key k to dst.
func (m multiIndex) ids(dst []string, k string) []string {
	g := m[k]
	if g.more == nil {
		if g.one != "" {
			dst = append(dst, g.one)
		}
		return dst
	}
	for id := range g.more {
		dst = append(dst, id)
	}
	return dst
}

// staged is a transaction's changes to a multiIndex: per key and ID, whether the ID has the
// key after the transaction (false is a tombstone for a committed pair).
type staged map[string]map[string]bool

// set records whether id has key k after the transaction, making s on its first change. An
// empty key is not indexed.
func (s *staged) set(k, id string, has bool) {
	if k == "" {
		return
	}
	if *s == nil {
		*s = make(staged)
	}
	d := (*s)[k]
	if d == nil {
		d = make(map[string]bool)
		(*s)[k] = d
	}
	d[id] = has
}

// lookup returns, in ascending order, the IDs that have key k once the changes in s (nil in a
// View) apply to live.
func lookup(live multiIndex, s staged, k string) []string {
	ids := live.ids(nil, k)
	d := s[k]
	if len(d) > 0 {
		ids = slices.DeleteFunc(ids, func(id string) bool { has, ok := d[id]; return ok && !has })
		for id, has := range d {
			if has && !live.has(k, id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	return ids
}

// apply applies the changes in s to live.
func (s staged) apply(live multiIndex) {
	for k, d := range s {
		for id, has := range d {
			if has {
				live.link(k, id)
			} else {
				live.unlink(k, id)
			}
		}
	}
}
