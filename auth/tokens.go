package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims is the JSON form of a token's claims.
type claims struct {
	Sid   string `json:"sid"`
	Staff bool   `json:"staff"`
	Super bool   `json:"super"`
	Type  string `json:"type"`
	jwt.RegisteredClaims
}

// sign returns the access and refresh token of session sid, the refresh
// token with id jti.
func (s *Service) sign(u User, sid, jti string, now time.Time) (Pair, error) {
	now = now.Truncate(time.Second)
	mk := func(typ, id string, ttl time.Duration) (string, error) {
		t := jwt.NewWithClaims(s.method, claims{
			Sid: sid, Staff: u.Staff, Super: u.Superuser, Type: typ,
			RegisteredClaims: jwt.RegisteredClaims{
				Subject:   u.ID,
				ID:        id,
				IssuedAt:  jwt.NewNumericDate(now),
				ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			},
		})
		tok, err := t.SignedString(s.signKey)
		if err != nil {
			return "", fmt.Errorf("auth: signing the %s token: %w", typ, err)
		}
		return tok, nil
	}
	access, err := mk(typeAccess, "", s.cfg.AccessTTL)
	if err != nil {
		return Pair{}, err
	}
	refresh, err := mk(typeRefresh, jti, s.cfg.RefreshTTL)
	if err != nil {
		return Pair{}, err
	}
	return Pair{Access: access, Refresh: refresh}, nil
}

// keyFunc hands the parser the verification key, for the configured
// algorithm only (the parser's WithValidMethods already refuses others).
func (s *Service) keyFunc(t *jwt.Token) (any, error) {
	if t.Method == nil || t.Method.Alg() != s.method.Alg() {
		return nil, fmt.Errorf("unexpected signing method %v", t.Header["alg"])
	}
	return s.verifyKey, nil
}

// parse verifies tok and checks that it is a token of type typ with the
// claims every token has.
func (s *Service) parse(tok, typ string) (*claims, error) {
	var c claims
	_, err := s.parser.ParseWithClaims(tok, &c, s.keyFunc)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired) && !errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, fmt.Errorf("%w: %v", ErrExpiredToken, err)
	default:
		return nil, fmt.Errorf("%w: %v", ErrInvalidToken, err)
	}
	if c.Type != typ {
		return nil, fmt.Errorf("%w: a token of type %q is not a %s token", ErrInvalidToken, c.Type, typ)
	}
	if c.Subject == "" || c.Sid == "" || c.IssuedAt == nil {
		return nil, fmt.Errorf("%w: missing sub, sid or iat", ErrInvalidToken)
	}
	return &c, nil
}
