package teamscim

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readAll reads what io.ReadAll reads whatever length the request declared: the exact length,
// a shorter or longer one, none, one byte at a time, with the data and EOF together, and it
// passes a read error on.
func TestReadAll(t *testing.T) {
	const body = `{"userName":"a@example.com"}`
	for _, length := range []int64{int64(len(body)), 1, 5, int64(len(body)) + 10, 0, -1} {
		for name, r := range map[string]func() io.Reader{
			"plain":      func() io.Reader { return strings.NewReader(body) },
			"one byte":   func() io.Reader { return iotest.OneByteReader(strings.NewReader(body)) },
			"data + EOF": func() io.Reader { return iotest.DataErrReader(strings.NewReader(body)) },
		} {
			got, err := readAll(r(), length)
			require.NoError(t, err, "%s, length %d", name, length)
			assert.Equal(t, body, string(got), "%s, length %d", name, length)
		}
	}
	boom := errors.New("boom")
	_, err := readAll(iotest.ErrReader(boom), 10)
	assert.ErrorIs(t, err, boom)
}
