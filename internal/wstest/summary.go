package wstest

import (
	"fmt"
	"strings"
)

// SummaryRows reads the "  name   value  (...)" rows of wsload's text
// summary into a map of name to value; indented detail lines and rows
// whose value is not an integer are skipped.
func SummaryRows(sum string) map[string]int64 {
	rows := map[string]int64{}
	for _, line := range strings.Split(sum, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || !strings.HasPrefix(line, "  ") || strings.HasPrefix(line, "    ") {
			continue
		}
		var v int64
		if _, err := fmt.Sscan(f[1], &v); err == nil {
			rows[f[0]] = v
		}
	}
	return rows
}
