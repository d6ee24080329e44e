package fsat

import (
	"io"
	"os"
)

// OpenRoot opens the workspace root p, which the caller closes.
func OpenRoot(p string) (*os.File, error) { return openRoot(p) }

// Stat describes rel below root; a link as rel is refused.
func Stat(root *os.File, rel string) (Entry, error) { return statAt(root, rel) }

// List writes the JSON array of rel's direct entries, at most limit.
func List(root *os.File, rel string, limit int, out io.Writer) error {
	return listAt(root, rel, limit, out)
}

// Tar writes rel (a file or a tree; "" the root, named "data") as a tar
// on out, links as links; sockets, FIFOs and devices are left out.
func Tar(root *os.File, rel string, out io.Writer) error { return tarAt(root, rel, out) }

// Untar extracts in into directory rel (made if missing), all or
// nothing; links and escaping names are refused.
func Untar(root *os.File, rel string, in io.Reader) error { return untarAt(root, rel, in) }

// Remove deletes rel and what is under it (a link itself); absent is
// fine.
func Remove(root *os.File, rel string) error { return removeAt(root, rel) }
