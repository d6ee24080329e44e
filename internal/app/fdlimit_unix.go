//go:build unix

package app

import (
	"math"
	"syscall"
)

// openFileLimit is the process's limit on open files (the soft one, which
// Go raises to the hard one at start), or 0 if it cannot be read.
func openFileLimit() int {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return int(min(uint64(l.Cur), math.MaxInt32))
}
