// Package password stores passwords as argon2id hashes (RFC 9106, from
// golang.org/x/crypto/argon2) in the PHC string format
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// (salt and hash in unpadded standard base64), checks a password against
// such a string in constant time, and says when a stored hash was made
// with other parameters than the current ones, so that the application
// can rehash the password at the next successful sign-in.
//
// An application's credential check (auth.Config.Credentials) uses it so:
//
//	u, found, err := db.UserByName(ctx, username)
//	if err != nil {
//		return nil, err
//	}
//	if !found {
//		hasher.VerifyUnknown(password) // as long as a wrong password
//		return nil, nil
//	}
//	ok, rehash, err := hasher.Verify(password, u.PasswordHash)
//	if err != nil || !ok {
//		return nil, err
//	}
//	if rehash {
//		if h, err := hasher.Hash(password); err == nil {
//			_ = db.SetPasswordHash(ctx, u.ID, h)
//		}
//	}
//	return &auth.User{ID: u.ID}, nil
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id parameters of a hash.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Time is the number of passes.
	Time uint32
	// Threads is the degree of parallelism.
	Threads uint8
	// SaltLen and KeyLen are the lengths of the random salt and of the
	// hash, in bytes.
	SaltLen, KeyLen uint32
}

// DefaultParams are OWASP's recommended minimum for argon2id (19 MiB, two
// passes, one thread), a 16-byte salt and a 32-byte hash: about 20 ms a
// hash on a 2020s server core.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on what a stored hash may ask for: a hash string is parsed
// before anything is computed, and one asking for more (a corrupted or
// planted row) is refused rather than run.
const (
	maxMemory = 1 << 21 // KiB: 2 GiB
	maxTime   = 64
	maxLen    = 1024
)

// ErrMalformed is returned for a string that is not an argon2id hash this
// package can check.
var ErrMalformed = errors.New("password: not an argon2id hash in PHC format")

// Hasher hashes and verifies passwords with its Params. The zero Hasher
// uses [DefaultParams]. It is safe for concurrent use.
type Hasher struct {
	// Params are the parameters of new hashes; a verified hash made with
	// others is reported for rehashing. Zero means DefaultParams.
	Params Params

	dummyOnce sync.Once
	dummy     string
}

func (h *Hasher) params() Params {
	if h.Params == (Params{}) {
		return DefaultParams
	}
	return h.Params
}

// Hash returns the PHC string of password's argon2id hash, with a new
// random salt.
func (h *Hasher) Hash(password string) (string, error) {
	p := h.params()
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.SaltLen < 8 || p.KeyLen < 16 ||
		p.Memory > maxMemory || p.Time > maxTime || p.SaltLen > maxLen || p.KeyLen > maxLen {
		return "", fmt.Errorf("password: unusable parameters %+v", p)
	}
	salt := make([]byte, p.SaltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails (Go 1.24+)
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return Encode(p, salt, key), nil
}

// Encode returns the PHC string of an argon2id hash key of salt made with
// p: the inverse of [Decode].
func Encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches encoded (compared in constant
// time), and, when it does, whether encoded was made with other
// parameters than the Hasher's (rehash: hash the password again and store
// that). A malformed encoded is an error wrapping [ErrMalformed].
func (h *Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := Decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params(), nil
}

// VerifyUnknown does the work of a Verify that fails, for a username that
// does not exist: the answer then takes as long as a wrong password's,
// and does not tell that the user is unknown. It always reports false. A
// Hasher whose Params cannot hash (Hash refuses them) verifies against a
// dummy of [DefaultParams] instead, never against nothing.
func (h *Hasher) VerifyUnknown(password string) bool {
	h.dummyOnce.Do(func() {
		var err error
		if h.dummy, err = h.Hash("mizan: a password nobody has"); err != nil {
			h.dummy, _ = (&Hasher{}).Hash("mizan: a password nobody has")
		}
	})
	_, _, _ = h.Verify(password+"\x00", h.dummy)
	return false
}

// Decode parses a PHC argon2id string into its parameters, salt and hash.
// It refuses other algorithms and versions, and parameters beyond sane
// bounds (more than 2 GiB of memory, 64 passes, 1 KiB of salt or hash).
func Decode(encoded string) (p Params, salt, key []byte, err error) {
	bad := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformed, why)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want $argon2id$v=19$m=...,t=...,p=...$salt$hash")
	}
	if parts[1] != "argon2id" {
		return bad("the algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("the version is not 19")
	}
	var m, t, threads uint64
	fields := strings.Split(parts[3], ",")
	if len(fields) != 3 {
		return bad("want m=...,t=...,p=...")
	}
	for i, dst := range []*uint64{&m, &t, &threads} {
		name := []string{"m=", "t=", "p="}[i]
		v, found := strings.CutPrefix(fields[i], name)
		n, perr := strconv.ParseUint(v, 10, 32)
		if !found || perr != nil || n == 0 || strconv.FormatUint(n, 10) != v {
			return bad("parameter " + name[:1] + " is not a positive integer in canonical form")
		}
		*dst = n
	}
	if m > maxMemory || t > maxTime || threads > 255 {
		return bad("parameters beyond the bounds this package runs")
	}
	// The decoder skips \r and \n wherever they are: comparing with the
	// re-encoding refuses them (and any other non-canonical form).
	b64 := base64.RawStdEncoding.Strict()
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > maxLen || b64.EncodeToString(salt) != parts[4] {
		return bad("the salt is not 8 to 1024 bytes of unpadded base64")
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > maxLen || b64.EncodeToString(key) != parts[5] {
		return bad("the hash is not 16 to 1024 bytes of unpadded base64")
	}
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(threads), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	return p, salt, key, nil
}
