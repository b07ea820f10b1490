package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/flowd/flowd/flow"
)

// ServerDefault is the API the operator commands talk to when neither
// --server nor FLOWD_SERVER says otherwise.
const ServerDefault = "http://127.0.0.1:8080"

// maxAnswerBytes bounds what the CLI reads of one API answer.
const maxAnswerBytes = 64 << 20

// clientOptions are the flags every operator command shares.
type clientOptions struct {
	server string
	token  string
	json   bool
}

// clientFlags declares --server, --token and --json on e.
func clientFlags(e *envFlags) *clientOptions {
	o := &clientOptions{}
	e.str(&o.server, "server", "FLOWD_SERVER", ServerDefault, "base URL of the flowd API")
	e.str(&o.token, "token", "FLOWD_TOKEN", "", "API token (flowd token create); prefer the variable, flags show in ps")
	e.fs.BoolVar(&o.json, "json", false, "print the API's data as JSON instead of text, for scripts")
	return o
}

// client calls the flowd HTTP API. It knows the envelope and nothing else:
// every command decodes the data it needs into the engine's domain types.
type client struct {
	base  *url.URL
	token string
	http  *http.Client
}

func newClient(o *clientOptions) (*client, error) {
	u, err := url.Parse(strings.TrimRight(o.server, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http(s) URL like %s", o.server, ServerDefault)
	}
	return &client{base: u, token: strings.TrimSpace(o.token), http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// answer is the API's envelope.
type answer struct {
	Status     string            `json:"status"`
	Message    string            `json:"message"`
	Data       json.RawMessage   `json:"data"`
	Errors     []flow.FieldError `json:"errors"`
	NextCursor *string           `json:"next_cursor"`
	code       int
}

// apiError is an answer with an error status: its message and field
// errors are what the CLI prints.
type apiError struct {
	method, path string
	code         int
	message      string
	errors       []flow.FieldError
}

func (e *apiError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s: %s", e.method, e.path, e.code, http.StatusText(e.code), e.message)
	for _, fe := range e.errors {
		if fe.Field != "" {
			fmt.Fprintf(&b, "\n  %s: %s", fe.Field, fe.Message)
		} else {
			fmt.Fprintf(&b, "\n  %s", fe.Message)
		}
	}
	return b.String()
}

// isNotFound tells whether err is an API answer 404 (flows apply uses it).
func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == http.StatusNotFound
}

// do sends one request; body, when not nil, is sent as JSON. An answer
// with a status of 300 or more is an *apiError.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body []byte, header http.Header) (*answer, error) {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "flowd-cli")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	a := &answer{code: resp.StatusCode}
	if err := json.Unmarshal(raw, a); err != nil || a.Status == "" {
		return nil, fmt.Errorf("%s %s: %d %s, and the answer is not flowd's JSON envelope (is --server right?): %.200q",
			method, path, resp.StatusCode, http.StatusText(resp.StatusCode), raw)
	}
	if resp.StatusCode >= 300 {
		return nil, &apiError{method: method, path: path, code: resp.StatusCode, message: a.Message, errors: a.Errors}
	}
	return a, nil
}

// get sends a GET and decodes the answer's data into v.
func (c *client) get(ctx context.Context, path string, query url.Values, v any) (*answer, error) {
	a, err := c.do(ctx, http.MethodGet, path, query, nil, nil)
	if err != nil {
		return nil, err
	}
	return a, a.decode(v)
}

// decode decodes the answer's data into v (nil: nothing).
func (a *answer) decode(v any) error {
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(a.Data, v); err != nil {
		return fmt.Errorf("decode the API's data: %w", err)
	}
	return nil
}

// printJSON writes raw JSON indented, for --json.
func printJSON(w io.Writer, raw json.RawMessage) error {
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return fmt.Errorf("indent the API's data: %w", err)
	}
	b.WriteByte('\n')
	_, err := w.Write(b.Bytes())
	return err
}

// usageError prints a usage problem and the command's usage, and returns
// errUsage (exit code 2).
func usageError(fs *flag.FlagSet, format string, args ...any) error {
	fmt.Fprintf(fs.Output(), "%s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return errUsage
}
