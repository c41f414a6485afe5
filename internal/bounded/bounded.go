// Package bounded reads at most a limit and fails past it. io.LimitReader
// ends the input at the limit silently, so a truncated answer or file
// would parse as a smaller one; a [Reader] returns an error instead.
package bounded

import "io"

// Reader reads from R at most Left more bytes. A read past them returns
// the error of Over (one byte more tells an input of exactly the limit
// from a larger one).
type Reader struct {
	R    io.Reader
	Left int64
	Over func() error
}

func (b *Reader) Read(p []byte) (int, error) {
	if b.Left <= 0 {
		var one [1]byte
		if n, _ := b.R.Read(one[:]); n > 0 {
			return 0, b.Over()
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.Left {
		p = p[:b.Left]
	}
	n, err := b.R.Read(p)
	b.Left -= int64(n)
	return n, err
}
