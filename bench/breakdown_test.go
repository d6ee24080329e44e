package bench

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"github.com/warder/warder/internal/testkit/apitest"
)

// histograms is the sum and count of every series of one histogram family
// in a scrape of Warder's /metrics, by the series' labels as written
// there ({method="POST",route="..."}).
type histograms map[string]struct{ sum, count float64 }

// scrapeHistograms reads family's series from the /metrics of the Warder
// at base.
func scrapeHistograms(tb testing.TB, base, family string) histograms {
	tb.Helper()
	h := histograms{}
	sc := bufio.NewScanner(strings.NewReader(apitest.Scrape(tb, base)))
	for sc.Scan() {
		// Label values hold spaces ("POST /api/agents"): the value is
		// after the last one.
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		series, value := line[:max(i, 0)], line[i+1:]
		if i < 0 || !strings.HasPrefix(series, family+"_") {
			continue
		}
		kind, labels, _ := strings.Cut(strings.TrimPrefix(series, family+"_"), "{")
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			continue
		}
		e := h["{"+labels]
		switch kind {
		case "sum":
			e.sum = v
		case "count":
			e.count = v
		default:
			continue
		}
		h["{"+labels] = e
	}
	return h
}

// since is what was added to each series between before and h.
func (h histograms) since(before histograms) histograms {
	d := histograms{}
	for k, e := range h {
		b := before[k]
		e.sum, e.count = e.sum-b.sum, e.count-b.count
		if e.count > 0 {
			d[k] = e
		}
	}
	return d
}

// of is the series whose labels contain every one of want (each as
// written in the scrape: `operation="create"`).
func (h histograms) of(want ...string) (sum, count float64) {
	for k, e := range h {
		all := true
		for _, w := range want {
			all = all && strings.Contains(k, w)
		}
		if all {
			sum, count = sum+e.sum, count+e.count
		}
	}
	return sum, count
}
