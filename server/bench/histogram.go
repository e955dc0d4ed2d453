package bench

import (
	"math"
	"math/bits"
	"time"
)

// The latency histogram counts microseconds in buckets 1/32 of a power of two
// wide: exact below 32 µs, then within 3.2% (a bucket's width over its lower
// bound), which is finer than what a percentile of a few hundred samples can
// tell. It covers up to 2^31 µs (36 minutes); longer latencies count in the
// last bucket. 864 buckets of 4 bytes are 3.4 KB, so that every reader keeps
// its own and counts without a lock; their sum is a totals.
const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histMaxBits = 31
	histMaxUS   = 1<<histMaxBits - 1
	histBuckets = (histMaxBits - histSubBits + 1) * histSub // 864
)

// histogram counts the latencies one reader saw. The zero value is empty
// and ready.
type histogram struct {
	counts [histBuckets]uint32
	n      uint64
	max    time.Duration
}

// totals is the sum of histograms, with counts that do not overflow: a long
// run at a million deliveries a second passes 2^32 in all.
type totals struct {
	counts [histBuckets]uint64
	n      uint64
	max    time.Duration
}

// bucketOf is the bucket of us microseconds.
func bucketOf(us uint64) int {
	if us > histMaxUS {
		us = histMaxUS
	}
	e := max(bits.Len64(us)-histSubBits-1, 0)
	return e<<histSubBits + int(us>>e)
}

// bucketUpper is the first microsecond above bucket i.
func bucketUpper(i int) uint64 {
	if i < 2*histSub {
		return uint64(i + 1)
	}
	e := i>>histSubBits - 1
	m := uint64(i - e<<histSubBits)
	return (m + 1) << e
}

// record counts one latency; a negative one (the wall clock stepped back)
// counts as zero.
func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d/time.Microsecond))]++
	h.n++
	h.max = max(h.max, d)
}

// add adds the counts of o.
func (h *totals) add(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += uint64(c)
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency that a fraction q (0 to 1) of the samples
// does not exceed: the upper bound of its bucket, at most the largest
// sample, so that a percentile is never reported better than it was. It is
// zero for an empty histogram.
func (h *totals) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		if seen += c; seen >= rank {
			return min(time.Duration(bucketUpper(i))*time.Microsecond, h.max)
		}
	}
	return h.max
}
