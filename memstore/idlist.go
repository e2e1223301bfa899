package memstore

import (
	"iter"
	"slices"
	"sort"
)

// maxBlock is the largest number of IDs an idList block holds before it splits in two.
const maxBlock = 512

// idList is an ordered set of IDs (byte-wise string order), kept as a list of sorted blocks
// of at most maxBlock IDs each, every block's IDs smaller than the next block's.
//
// A single sorted slice would make each insert an O(n) memmove; with random IDs (UUIDs) in a
// 100k-user team that is ~0.8 MB moved per created user. Blocks bound the move to maxBlock IDs
// plus O(n/maxBlock) block headers, so insert and remove cost O(log n + maxBlock), while walking
// in order (offset paging) stays a plain slice walk.
type idList struct {
	blocks [][]string
	n      int
}

// Len returns the number of IDs in the list.
func (l *idList) Len() int { return l.n }

// find returns the index of the block that holds id or would receive it, the position of id
// in that block, and whether id is present. bi == len(l.blocks) means id is greater than
// every ID in the list.
func (l *idList) find(id string) (bi, i int, found bool) {
	bi = sort.Search(len(l.blocks), func(k int) bool {
		b := l.blocks[k]
		return b[len(b)-1] >= id
	})
	if bi == len(l.blocks) {
		return bi, 0, false
	}
	i, found = slices.BinarySearch(l.blocks[bi], id)
	return bi, i, found
}

// Insert adds id and reports whether it was absent.
func (l *idList) Insert(id string) bool {
	if len(l.blocks) == 0 {
		l.blocks = [][]string{{id}}
		l.n = 1
		return true
	}
	bi, i, found := l.find(id)
	if found {
		return false
	}
	if bi == len(l.blocks) { // after the last ID: append to the last block
		bi = len(l.blocks) - 1
		i = len(l.blocks[bi])
	}
	b := slices.Insert(l.blocks[bi], i, id)
	if len(b) > maxBlock {
		half := len(b) / 2
		right := slices.Clone(b[half:])
		clear(b[half:]) // drop references held by the left block's spare capacity
		l.blocks[bi] = b[:half]
		l.blocks = slices.Insert(l.blocks, bi+1, right)
	} else {
		l.blocks[bi] = b
	}
	l.n++
	return true
}

// Remove deletes id and reports whether it was present.
func (l *idList) Remove(id string) bool {
	bi, i, found := l.find(id)
	if !found {
		return false
	}
	b := slices.Delete(l.blocks[bi], i, i+1)
	if len(b) == 0 {
		l.blocks = slices.Delete(l.blocks, bi, bi+1)
	} else {
		l.blocks[bi] = b
	}
	l.n--
	return true
}

// All yields the IDs in ascending order.
func (l *idList) All() iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, b := range l.blocks {
			for _, id := range b {
				if !yield(id) {
					return
				}
			}
		}
	}
}

// From yields the IDs greater than after (all of them when after is empty) in ascending
// order, seeking the first in O(log n).
func (l *idList) From(after string) iter.Seq[string] {
	if after == "" {
		return l.All()
	}
	return func(yield func(string) bool) {
		bi, i, found := l.find(after)
		if found {
			i++
		}
		for ; bi < len(l.blocks); bi, i = bi+1, 0 {
			for _, id := range l.blocks[bi][i:] {
				if !yield(id) {
					return
				}
			}
		}
	}
}

// ascendFrom is ascend over the IDs greater than after.
func ascendFrom(live *idList, extra []string, after string) iter.Seq[string] {
	if after != "" {
		extra = extra[sort.SearchStrings(extra, after):]
		if len(extra) > 0 && extra[0] == after {
			extra = extra[1:]
		}
	}
	return merge(live.From(after), extra)
}

// ascend yields, in ascending order, the union of the IDs of live and of extra, a sorted slice
// of IDs that live does not hold (the IDs a transaction has created).
func ascend(live *idList, extra []string) iter.Seq[string] { return merge(live.All(), extra) }

// merge yields, in ascending order, the union of the ascending IDs of live and of extra.
func merge(live iter.Seq[string], extra []string) iter.Seq[string] {
	return func(yield func(string) bool) {
		j := 0
		for id := range live {
			for j < len(extra) && extra[j] < id {
				if !yield(extra[j]) {
					return
				}
				j++
			}
			if !yield(id) {
				return
			}
		}
		for ; j < len(extra); j++ {
			if !yield(extra[j]) {
				return
			}
		}
	}
}

// idSet is the list of IDs a transaction creates: appended in O(1) and sorted only when a
// list needs them in order, so that an Update creating k records costs O(k log k), not O(k²).
// The caller adds each ID once.
type idSet struct {
	ids      []string
	unsorted bool
}

func (s *idSet) add(id string) {
	if n := len(s.ids); n > 0 && s.ids[n-1] > id {
		s.unsorted = true
	}
	s.ids = append(s.ids, id)
}

// sorted returns the IDs in ascending order.
func (s *idSet) sorted() []string {
	if s.unsorted {
		slices.Sort(s.ids)
		s.unsorted = false
	}
	return s.ids
}
