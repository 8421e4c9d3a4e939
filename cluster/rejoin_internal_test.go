package cluster

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// sizedSnap is a snapshot with one world per node, of the given sizes.
func sizedSnap(next uint16, sizes map[uint16]int) *clusterSnapshot {
	s := &clusterSnapshot{NextNode: next}
	for n := uint16(1); n < next; n++ {
		if size, ok := sizes[n]; ok {
			s.Worlds = append(s.Worlds, storedWorld{Node: n, Hosts: []uint16{n}, Blob: make([]byte, size)})
		}
	}
	return s
}

// Which placements the remote workers take, for restores onto more,
// as many and fewer workers than the checkpoint had worlds.
func TestAssignRemoteGivesRemoteWorkersWorlds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		snap    *clusterSnapshot
		m       int
		remotes []uint16
		want    map[uint16]uint16 // remote worker now → node it joins again as
	}{
		{"each keeps its own world; a new one takes a world of the leader's machine",
			sizedSnap(5, map[uint16]int{1: 10, 2: 10, 3: 10, 4: 10}), 4, []uint16{3, 4, 5}, map[uint16]uint16{3: 3, 4: 4, 5: 1}},
		{"more workers than worlds: the remote ones take worlds, the local ones the empty placements",
			sizedSnap(3, map[uint16]int{1: 10, 2: 10}), 5, []uint16{7, 8}, map[uint16]uint16{7: 1, 8: 2}},
		{"fewer: merged worlds, every remote worker gets some",
			sizedSnap(6, map[uint16]int{1: 40, 2: 30, 3: 20, 4: 10, 5: 5}), 3, []uint16{4, 5}, map[uint16]uint16{4: 1, 5: 2}},
		{"more remote workers than worlds: the extra ones take empty placements",
			sizedSnap(2, map[uint16]int{1: 10}), 3, []uint16{1, 2, 3}, map[uint16]uint16{1: 1, 2: 2, 3: 3}},
		{"no remote workers", sizedSnap(3, map[uint16]int{1: 10, 2: 10}), 2, nil, map[uint16]uint16{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps, _, err := plan(tc.snap, tc.m)
			require.NoError(t, err)
			got := map[uint16]uint16{}
			used := map[int]bool{}
			for r, i := range assignRemote(ps, tc.remotes) {
				assert.False(t, used[i], "placement %d given twice", ps[i].Node)
				used[i] = true
				got[r] = ps[i].Node
			}
			assert.Equal(t, tc.want, got)
		})
	}
}

// reserve splits the placements: the reserved ones carry their world and
// a token of their own; the rest are the local workers', in order.
func TestReserveSplitsPlacements(t *testing.T) {
	ps, _, err := plan(sizedSnap(4, map[uint16]int{1: 10, 2: 10, 3: 10}), 4)
	require.NoError(t, err)
	parts := make([]*worldPart, len(ps))
	for i, p := range ps {
		parts[i] = &worldPart{Object: objectName(9, p.Node)}
	}
	rs, local, localParts := reserve(ps, parts, []*workerRef{{Node: 2}, {Node: 9}})
	require.Len(t, rs, 2)
	assert.Equal(t, uint16(2), rs[0].from)
	assert.Equal(t, uint16(2), rs[0].e.p.Node, "a remote worker keeps its own world")
	assert.Equal(t, "g9/w2", rs[0].e.world.Object)
	assert.Equal(t, uint16(9), rs[1].from)
	assert.Equal(t, uint16(1), rs[1].e.p.Node)
	assert.NotEmpty(t, rs[0].e.token)
	assert.NotEqual(t, rs[0].e.token, rs[1].e.token)
	require.Len(t, local, 2)
	assert.Equal(t, []uint16{3, 4}, []uint16{local[0].Node, local[1].Node})
	assert.Equal(t, "g9/w3", localParts[0].Object)
	assert.Equal(t, parts[3], localParts[1])
}

// Only the worker told the token takes a kept placement, and a worker
// with a token cannot take a local worker's.
func TestExpectedClaims(t *testing.T) {
	kept := &expected{p: placement{Node: 3}, token: "secret-token"}
	local := &expected{p: placement{Node: 1}}
	for _, tc := range []struct {
		name string
		e    *expected
		req  joinReq
		ok   bool
	}{
		{"the token", kept, joinReq{Node: 3, Member: "m", Token: "secret-token"}, true},
		{"a wrong token", kept, joinReq{Node: 3, Member: "m", Token: "secret-tokeN"}, false},
		{"no token", kept, joinReq{Node: 3, Member: "m"}, false},
		{"no member entry", kept, joinReq{Node: 3, Token: "secret-token"}, false},
		{"a local worker", local, joinReq{Node: 1}, true},
		{"a token for a local worker's placement", local, joinReq{Node: 1, Member: "m", Token: "secret-token"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.e.claims(tc.req)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorContains(t, err, "reserved")
			}
		})
	}
}

// The worker carries the placement from the stop request to its next join.
func TestRejoinAsIsErrRejoin(t *testing.T) {
	var err error = &rejoinAs{Node: 7, Token: "t"}
	assert.ErrorIs(t, err, ErrRejoin)
	var ra *rejoinAs
	require.ErrorAs(t, err, &ra)
	assert.Equal(t, uint16(7), ra.Node)
	assert.Contains(t, err.Error(), "worker 7")
	assert.NotContains(t, err.Error(), "t\"", "the token is not logged")
	assert.False(t, errors.Is(ErrRejoin, err))
}
