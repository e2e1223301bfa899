package teamscim_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/mock/gomock"

	"github.com/teamscim/teamscim"
	"github.com/teamscim/teamscim/internal/mocks"
	"github.com/teamscim/teamscim/store"
)

// mockedServer returns a Server on a mock store whose key lookup finds an active key of a
// team with SCIM on, and the secret of that key.
func mockedServer(t *testing.T, logs *bytes.Buffer) (*teamscim.Server, *mocks.MockStore, *mocks.MockTx, string) {
	ctrl := gomock.NewController(t)
	st := mocks.NewMockStore(ctrl)
	tx := mocks.NewMockTx(ctrl)
	secret := "tscim_mocked-secret-value-000000"
	digest := sha256.Sum256([]byte(secret))
	st.EXPECT().LookupKey(gomock.Any(), digest).Return(store.APIKey{ID: "k", TeamID: "t", Digest: digest, Status: store.KeyActive}, nil).AnyTimes()
	st.EXPECT().View(gomock.Any(), "t", gomock.Any()).DoAndReturn(
		func(ctx context.Context, _ string, fn func(context.Context, store.Tx) error) error {
			return fn(ctx, tx)
		}).AnyTimes()
	tx.EXPECT().Team(gomock.Any()).Return(store.Team{ID: "t", SCIMEnabled: true, SSOMethods: []string{"saml"}}, nil).AnyTimes()
	srv, err := teamscim.New(teamscim.Config{Store: st, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	return srv, st, tx, secret
}

func serve(srv http.Handler, method, path, body, secret string) response {
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Authorization", "Bearer "+secret)
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, r)
	return decode(w)
}

// A store failure while writing answers the generic 500; the cause is logged, not shown.
func TestStoreWriteFailureIsGeneric500(t *testing.T) {
	var logs bytes.Buffer
	srv, st, _, secret := mockedServer(t, &logs)
	st.EXPECT().Update(gomock.Any(), "t", gomock.Any()).Return(fmt.Errorf("pg: connection reset by peer at 10.0.0.7"))
	res := serve(srv, http.MethodPost, "/Users", `{"userName":"a@example.com"}`, secret)
	requireSCIMError(t, res, http.StatusInternalServerError, "")
	assert.NotContains(t, res.Body.String(), "10.0.0.7")
	assert.Contains(t, logs.String(), "connection reset")
	assert.NotContains(t, logs.String(), secret)
}

// A conflict a store reports at commit (another replica won the race) answers 409.
func TestStoreConflictAtCommitIs409(t *testing.T) {
	var logs bytes.Buffer
	srv, st, _, secret := mockedServer(t, &logs)
	st.EXPECT().Update(gomock.Any(), "t", gomock.Any()).Return(fmt.Errorf("commit: %w", store.ErrConflict))
	res := serve(srv, http.MethodPost, "/Users", `{"userName":"a@example.com"}`, secret)
	requireSCIMError(t, res, http.StatusConflict, "uniqueness")
}

// A failing key lookup is an internal error, not a 401 that would make an IdP drop the key.
func TestKeyLookupFailureIs500(t *testing.T) {
	ctrl := gomock.NewController(t)
	st := mocks.NewMockStore(ctrl)
	st.EXPECT().LookupKey(gomock.Any(), gomock.Any()).Return(store.APIKey{}, errors.New("timeout"))
	srv, err := teamscim.New(teamscim.Config{Store: st})
	require.NoError(t, err)
	requireSCIMError(t, serve(srv, http.MethodGet, "/Users", "", "tscim_whatever-secret-000000"), http.StatusInternalServerError, "")
}

// A store error inside a list is an internal error; nothing of it reaches the client.
func TestListStoreFailure(t *testing.T) {
	var logs bytes.Buffer
	srv, _, tx, secret := mockedServer(t, &logs)
	tx.EXPECT().ListUsers(gomock.Any(), gomock.Any(), gomock.Any()).Return(store.Page[store.User]{}, errors.New("index corrupt"))
	res := serve(srv, http.MethodGet, "/Users", "", secret)
	requireSCIMError(t, res, http.StatusInternalServerError, "")
	assert.NotContains(t, res.Body.String(), "corrupt")
}
