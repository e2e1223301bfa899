package teamscim

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/teamscim/teamscim/store"
)

// Errors of the team-admin API. Each is returned wrapped; test with errors.Is.
var (
	// ErrSSORequired: SCIM can be enabled only for a team with SSO configured.
	ErrSSORequired = errors.New("teamscim: SSO must be configured before SCIM can be enabled")
	// ErrSCIMDisabled: the operation needs SCIM provisioning to be turned on for the team.
	ErrSCIMDisabled = errors.New("teamscim: SCIM provisioning is turned off for the team")
	// ErrMultipleSSO: a SCIM API key can be generated only with exactly one SSO method.
	ErrMultipleSSO = errors.New("teamscim: a SCIM API key needs exactly one SSO method configured")
	// ErrInvalidArgument: an argument of the call is empty or malformed.
	ErrInvalidArgument = errors.New("teamscim: invalid argument")
)

// Team roles, as Postman names them. A member's roles are their own (store.User.Roles) plus
// those their groups grant (store.Group.Roles).
const (
	// RoleDeveloper is the role every member provisioned over SCIM gets; it holds a seat.
	// SCIM never grants an admin role.
	RoleDeveloper = "developer"
	// RoleSuperAdmin administers the team and holds a seat.
	RoleSuperAdmin = "super_admin"
	// RoleAdmin administers the team. A member who holds only admin and/or billing roles is a
	// support user and takes no seat.
	RoleAdmin = "admin"
	// RoleBilling manages the team's billing; like RoleAdmin it takes no seat on its own.
	RoleBilling = "billing"
)

// keyPrefix starts every generated secret, so that a leaked key is recognisable by scanners.
const keyPrefix = "tscim_"

// minSecretLength is the shortest secret KeyOptions.Secret may supply.
const minSecretLength = 16

// CreateTeam creates a team with SSO not configured and SCIM off.
func (s *Server) CreateTeam(ctx context.Context, name string) (store.Team, error) {
	if strings.TrimSpace(name) == "" {
		return store.Team{}, fmt.Errorf("%w: team name is empty", ErrInvalidArgument)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return store.Team{}, err
	}
	t := store.Team{ID: id.String(), Name: name, Created: s.now().UTC().Truncate(time.Millisecond)}
	if err := s.store.CreateTeam(ctx, t); err != nil {
		return store.Team{}, fmt.Errorf("teamscim: create team: %w", err)
	}
	return t, nil
}

// ConfigureSSO records that the team has the SSO method (for example "saml") configured.
func (s *Server) ConfigureSSO(ctx context.Context, teamID, method string) error {
	if strings.TrimSpace(method) == "" {
		return fmt.Errorf("%w: SSO method is empty", ErrInvalidArgument)
	}
	return s.updateTeam(ctx, teamID, func(t *store.Team) error {
		if !slices.Contains(t.SSOMethods, method) {
			t.SSOMethods = append(t.SSOMethods, method)
		}
		return nil
	})
}

// EnableSCIM turns SCIM provisioning on. It fails with ErrSSORequired when the team has no
// SSO method configured.
func (s *Server) EnableSCIM(ctx context.Context, teamID string) error {
	return s.updateTeam(ctx, teamID, func(t *store.Team) error {
		if len(t.SSOMethods) == 0 {
			return ErrSSORequired
		}
		t.SCIMEnabled = true
		return nil
	})
}

// DisableSCIM turns SCIM provisioning off; every SCIM request of the team then answers 403.
// Provisioned members stay as they are.
func (s *Server) DisableSCIM(ctx context.Context, teamID string) error {
	return s.updateTeam(ctx, teamID, func(t *store.Team) error {
		t.SCIMEnabled = false
		return nil
	})
}

func (s *Server) updateTeam(ctx context.Context, teamID string, change func(*store.Team) error) error {
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		t, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		if err := change(&t); err != nil {
			return err
		}
		return tx.UpdateTeam(ctx, t)
	})
	if err != nil {
		return fmt.Errorf("teamscim: team %s: %w", teamID, err)
	}
	return nil
}

// KeyOptions describes a SCIM API key to generate.
type KeyOptions struct {
	// Name labels the key in the team's key list (for example "Okta"). Required.
	Name string
	// CreatedBy identifies the admin who generates the key.
	CreatedBy string
	// TTL, when positive, makes the key expire that long after its creation. Default: never.
	TTL time.Duration
	// Secret, when set, is used instead of a random secret. It must be at least 16
	// characters without spaces. Meant for demos and tests that need a known key; leave it
	// empty in production.
	Secret string
}

// NewKey is a generated key and its secret. The secret is returned only here: the store
// keeps its SHA-256 digest.
type NewKey struct {
	Key    store.APIKey
	Secret string
}

// GenerateKey creates an active SCIM API key for the team. SCIM must be enabled
// (ErrSCIMDisabled) and exactly one SSO method configured (ErrMultipleSSO, ErrSSORequired).
func (s *Server) GenerateKey(ctx context.Context, teamID string, opts KeyOptions) (NewKey, error) {
	if strings.TrimSpace(opts.Name) == "" {
		return NewKey{}, fmt.Errorf("%w: key name is empty", ErrInvalidArgument)
	}
	secret := opts.Secret
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return NewKey{}, fmt.Errorf("teamscim: generate key: %w", err)
		}
		secret = keyPrefix + base64.RawURLEncoding.EncodeToString(b)
	} else if _, ok := parseAuthorization(secret); !ok || len(secret) < minSecretLength || secret != strings.TrimSpace(secret) {
		return NewKey{}, fmt.Errorf("%w: a supplied secret needs at least %d characters and no spaces", ErrInvalidArgument, minSecretLength)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return NewKey{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	k := store.APIKey{ID: id.String(), TeamID: teamID, Name: opts.Name, Digest: sha256.Sum256([]byte(secret)),
		Status: store.KeyActive, CreatedBy: opts.CreatedBy, Created: now}
	if opts.TTL > 0 {
		k.Expires = now.Add(opts.TTL)
	}
	err = s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		t, err := tx.Team(ctx)
		if err != nil {
			return err
		}
		switch {
		case !t.SCIMEnabled:
			return ErrSCIMDisabled
		case len(t.SSOMethods) == 0:
			return ErrSSORequired
		case len(t.SSOMethods) > 1:
			return ErrMultipleSSO
		}
		return tx.CreateKey(ctx, k)
	})
	if err != nil {
		return NewKey{}, fmt.Errorf("teamscim: generate key for team %s: %w", teamID, err)
	}
	return NewKey{Key: k, Secret: secret}, nil
}

// RevokeKey revokes a key; the next request that presents it answers 401.
func (s *Server) RevokeKey(ctx context.Context, teamID, keyID string) error {
	err := s.store.Update(ctx, teamID, func(ctx context.Context, tx store.Tx) error {
		k, err := tx.GetKey(ctx, keyID)
		if err != nil {
			return err
		}
		k.Status = store.KeyRevoked
		return tx.UpdateKey(ctx, k)
	})
	if err != nil {
		return fmt.Errorf("teamscim: revoke key %s: %w", keyID, err)
	}
	return nil
}

// Member describes a person who joined the team outside SCIM (by invitation or sign-up).
type Member struct {
	Email      string
	GivenName  string
	FamilyName string
	// Roles are the member's team roles. Default: RoleDeveloper.
	Roles []string
}

// AddMember adds an active member who is not SCIM-managed, as the host does when someone
// joins the team by invitation. A later POST /Users with the same email (in any case) adopts
// the member: it answers 201 with this member, now SCIM-managed. An email already on the team
// fails with an error wrapping store.ErrConflict. The member gets m.Roles (default:
// RoleDeveloper) and the seat those roles call for (ErrNoSeat when the seat policy refuses;
// ErrTooManySupportUsers for one support user too many).
func (s *Server) AddMember(ctx context.Context, teamID string, m Member) (store.User, error) {
	if !isEmail(m.Email) {
		return store.User{}, fmt.Errorf("%w: %q is not an email address", ErrInvalidArgument, m.Email)
	}
	roles := slices.Compact(slices.Sorted(slices.Values(m.Roles)))
	if len(roles) == 0 {
		roles = []string{RoleDeveloper}
	}
	var u store.User
	err := s.update(ctx, teamID, "", func(ctx context.Context, tx store.Tx, fx *effects) error {
		id, err := uuid.NewV7()
		if err != nil {
			return err
		}
		u = store.User{ID: id.String(), UserName: m.Email, GivenName: m.GivenName, FamilyName: m.FamilyName,
			Active: true, Roles: roles, Created: fx.now, LastModified: fx.now, Version: 1}
		if err := checkSupportCap(ctx, tx, u, nil); err != nil {
			return err
		}
		if err := s.syncSeatWith(ctx, tx, fx, &u, nil); err != nil {
			return err
		}
		return tx.CreateUser(ctx, u)
	})
	if err != nil {
		return store.User{}, fmt.Errorf("teamscim: add member to team %s: %w", teamID, err)
	}
	return u, nil
}
