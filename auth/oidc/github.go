package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/github"
)

// GitHubAPI is the GitHub REST API's base URL.
const GitHubAPI = "https://api.github.com"

// maxAPIBody bounds the answers of GitHub's API read.
const maxAPIBody = 1 << 20

// GitHubConfig configures the GitHub provider ([NewGitHub]), a plain
// OAuth2 provider: GitHub has no ID token, so the identity comes from its
// API (GET /user and /user/emails) with the access token.
type GitHubConfig struct {
	// Name is the provider's name in the URLs. Default "github".
	Name string
	// DisplayName is shown to users. Default "GitHub".
	DisplayName string
	// ClientID and ClientSecret are the OAuth app's. Required.
	ClientID, ClientSecret string
	// Scopes are the scopes asked for. Nil means read:user and user:email
	// (the emails need user:email).
	Scopes []string
	// Endpoint is the OAuth2 endpoint. Zero means GitHub's
	// (golang.org/x/oauth2/github). For GitHub Enterprise, and tests.
	Endpoint oauth2.Endpoint
	// APIURL is the API's base URL. "" means [GitHubAPI].
	APIURL string
	// HTTPClient makes the requests to GitHub. Nil means a client with a
	// 10 s timeout.
	HTTPClient *http.Client
}

// GitHubProvider signs in with GitHub (OAuth2 and the REST API). The
// identity's email is the user's primary email address when GitHub has
// verified it; else the first verified one; else none.
type GitHubProvider struct {
	cfg    GitHubConfig
	client *http.Client
}

// NewGitHub returns the GitHub provider of cfg.
func NewGitHub(cfg GitHubConfig) (*GitHubProvider, error) {
	if cfg.Name == "" {
		cfg.Name = "github"
	}
	if cfg.DisplayName == "" {
		cfg.DisplayName = "GitHub"
	}
	switch {
	case !validProviderName.MatchString(cfg.Name):
		return nil, fmt.Errorf("oidc: NewGitHub: name %q must be 1 to 64 ASCII letters, digits, '_' and '-'", cfg.Name)
	case cfg.ClientID == "" || cfg.ClientSecret == "":
		return nil, fmt.Errorf("oidc: NewGitHub %s: the client id and secret are required", cfg.Name)
	}
	if cfg.Scopes == nil {
		cfg.Scopes = []string{"read:user", "user:email"}
	}
	if cfg.Endpoint.AuthURL == "" {
		cfg.Endpoint = github.Endpoint
	}
	if cfg.APIURL == "" {
		cfg.APIURL = GitHubAPI
	}
	cfg.APIURL = strings.TrimSuffix(cfg.APIURL, "/")
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &GitHubProvider{cfg: cfg, client: client}, nil
}

// Name returns the provider's name.
func (p *GitHubProvider) Name() string { return p.cfg.Name }

// DisplayName returns the name shown to users.
func (p *GitHubProvider) DisplayName() string { return p.cfg.DisplayName }

// oauth2Config returns the OAuth2 client of the flow.
func (p *GitHubProvider) oauth2Config(redirect string) *oauth2.Config {
	return &oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret,
		Endpoint: p.cfg.Endpoint, RedirectURL: redirect, Scopes: p.cfg.Scopes}
}

// AuthCodeURL returns GitHub's authorization URL with the state and the
// PKCE S256 challenge of r (GitHub has no nonce).
func (p *GitHubProvider) AuthCodeURL(_ context.Context, r AuthRequest) (string, error) {
	return p.oauth2Config(r.RedirectURL).AuthCodeURL(r.State, oauth2.S256ChallengeOption(r.Verifier)), nil
}

// githubUser is GitHub's GET /user answer, as far as read.
type githubUser struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
	Name  string `json:"name"`
}

// githubEmail is one address of GitHub's GET /user/emails answer.
type githubEmail struct {
	Email    string `json:"email"`
	Primary  bool   `json:"primary"`
	Verified bool   `json:"verified"`
}

// Exchange redeems the code with the PKCE verifier and reads the user and
// their email addresses from the API.
func (p *GitHubProvider) Exchange(ctx context.Context, e Exchange) (Identity, error) {
	cctx := context.WithValue(ctx, oauth2.HTTPClient, p.client)
	tok, err := p.oauth2Config(e.RedirectURL).Exchange(cctx, e.Code, oauth2.VerifierOption(e.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			return Identity{}, rejected("GitHub refused the code (spent, expired or not for this client)", err)
		}
		return Identity{}, fmt.Errorf("%w: GitHub token endpoint: %w", ErrUnavailable, err)
	}
	var u githubUser
	var claims map[string]any
	body, err := p.get(ctx, tok, "/user")
	if err != nil {
		return Identity{}, err
	}
	if json.Unmarshal(body, &u) != nil || json.Unmarshal(body, &claims) != nil || u.ID == 0 {
		return Identity{}, rejected("GitHub's user answer is malformed", nil)
	}
	var emails []githubEmail
	body, err = p.get(ctx, tok, "/user/emails")
	if err != nil {
		return Identity{}, err
	}
	if json.Unmarshal(body, &emails) != nil {
		return Identity{}, rejected("GitHub's email answer is malformed", nil)
	}
	id := Identity{Provider: p.cfg.Name, Subject: strconv.FormatInt(u.ID, 10), Name: u.Name, Username: u.Login, Claims: claims}
	for _, m := range emails {
		if m.Verified && (m.Primary || id.Email == "") {
			id.Email, id.EmailVerified = m.Email, true
		}
	}
	if id.Email == "" {
		for _, m := range emails {
			if m.Primary {
				id.Email = m.Email
			}
		}
	}
	return id, nil
}

// get reads path of the API with the access token.
func (p *GitHubProvider) get(ctx context.Context, tok *oauth2.Token, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.cfg.APIURL+path, nil)
	if err != nil {
		return nil, fmt.Errorf("oidc: GitHub %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	tok.SetAuthHeader(req)
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GitHub %s: %w", ErrUnavailable, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAPIBody))
	if err != nil {
		return nil, fmt.Errorf("%w: GitHub %s: %w", ErrUnavailable, path, err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, rejected("GitHub refused the access token", fmt.Errorf("GET %s: %s", path, resp.Status))
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: GitHub GET %s: %s", ErrUnavailable, path, resp.Status)
	}
	return body, nil
}
