// Package medic is a client for Medic, the heartbeat monitoring service.
//
//	client := medic.NewClient("http://medic.internal:5000", medic.WithAPIKey(key))
//	err := client.SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: "billing-hb", Status: medic.StatusUp})
//
// Requests are retried with exponential backoff on connection errors, 5xx and 429
// (honouring Retry-After). Any reply other than 2xx is returned as *APIError.
package medic

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	mathrand "math/rand"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Version of this client, sent in the User-Agent header.
const Version = "1.0.0"

// DefaultBaseURL is used when NewClient gets an empty base URL and MEDIC_BASE_URL is unset.
const DefaultBaseURL = "http://localhost:5000"

// Heartbeat statuses understood by Medic.
const (
	StatusUp       = "UP"
	StatusDown     = "DOWN"
	StatusDegraded = "DEGRADED"
)

const (
	maxBackoff    = 30 * time.Second
	maxRetryAfter = 60 * time.Second
	// Fail reasons are for humans reading an alert; keep request bodies small.
	maxMessageLen = 2000
)

// Heartbeat is one heartbeat, in the shape of the original Medic Go client.
type Heartbeat struct {
	HeartbeatName string `json:"heartbeat_name"`
	Service       string `json:"service_name,omitempty"`
	Status        string `json:"status"` // StatusUp when empty
}

// Service is a service registration for RegisterService. Zero-valued optional
// fields are left to the server's defaults.
type Service struct {
	HeartbeatName      string    `json:"heartbeat_name"`
	ServiceName        string    `json:"service_name"`
	AlertInterval      int       `json:"alert_interval,omitempty"` // minutes, >= 1; not needed with a cron Schedule
	Threshold          int       `json:"threshold,omitempty"`
	Team               string    `json:"team,omitempty"`
	Priority           string    `json:"priority,omitempty"` // p1..p5
	Runbook            string    `json:"runbook,omitempty"`
	GracePeriodSeconds int       `json:"grace_period_seconds,omitempty"`
	Environment        string    `json:"environment,omitempty"`
	Schedule           *Schedule `json:"schedule,omitempty"`
}

// Schedule is a cron schedule for Service (docs/schedules.md): slots are the
// times Cron names in Timezone (default UTC). Durations are seconds; zero
// fields are left to the server's defaults. The service record returned by
// RegisterService and GetService carries it under "schedule", with "kind",
// "description" and "next_slots".
type Schedule struct {
	Kind        string `json:"kind,omitempty"` // "cron" (implied by Cron) or "interval"
	Cron        string `json:"cron,omitempty"` // 5 fields or an alias such as "@daily"
	Timezone    string `json:"timezone,omitempty"`
	Grace       int    `json:"grace,omitempty"`        // a success this late still meets its slot
	StartMargin int    `json:"start_margin,omitempty"` // a run must have started by then ("late to start")
	MaxRuntime  int    `json:"max_runtime,omitempty"`  // a started run may take this long ("running too long")
	MinRuntime  int    `json:"min_runtime,omitempty"`  // a completed run must take this long ("finished too fast")
}

// HeartbeatRecord is a stored heartbeat as returned by GetHeartbeats.
type HeartbeatRecord struct {
	HeartbeatID   int64     `json:"heartbeat_id"`
	HeartbeatName string    `json:"heartbeat_name"`
	ServiceName   string    `json:"service_name"`
	Time          time.Time `json:"time"`
	Status        string    `json:"status"`
	Team          string    `json:"team"`
	Priority      string    `json:"priority"`
}

// HeartbeatQuery filters GetHeartbeats; empty fields are not sent.
type HeartbeatQuery struct {
	HeartbeatName string
	ServiceName   string
	MaxCount      int
}

// APIError is a reply from Medic with a status other than 2xx.
type APIError struct {
	StatusCode int
	Message    string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("medic: HTTP %d: %s", e.StatusCode, e.Message)
}

// Client talks to one Medic server. It is safe for concurrent use.
type Client struct {
	baseURL    string
	apiKey     string
	httpClient *http.Client
	timeout    time.Duration
	retries    int
	backoff    time.Duration
	logger     *log.Logger
}

// Option configures a Client.
type Option func(*Client)

// WithAPIKey sends key as "Authorization: Bearer <key>". Defaults to $MEDIC_API_KEY.
func WithAPIKey(key string) Option { return func(c *Client) { c.apiKey = key } }

// WithHTTPClient replaces http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.httpClient = hc } }

// WithTimeout bounds each attempt (default 5s).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// WithRetries sets how many times a failed request is retried (default 3).
func WithRetries(n int) Option {
	return func(c *Client) {
		if n >= 0 {
			c.retries = n
		}
	}
}

// WithBackoff sets the first retry delay, doubled on each further retry (default 500ms).
func WithBackoff(d time.Duration) Option { return func(c *Client) { c.backoff = d } }

// WithLogger receives job signal failures that RunJob does not return (default: log.Default()).
func WithLogger(l *log.Logger) Option { return func(c *Client) { c.logger = l } }

// NewClient returns a client for the Medic server at baseURL. An empty baseURL
// means $MEDIC_BASE_URL, then DefaultBaseURL.
func NewClient(baseURL string, opts ...Option) *Client {
	if baseURL == "" {
		baseURL = os.Getenv("MEDIC_BASE_URL")
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	c := &Client{
		baseURL:    strings.TrimRight(baseURL, "/"),
		apiKey:     os.Getenv("MEDIC_API_KEY"),
		httpClient: http.DefaultClient,
		timeout:    5 * time.Second,
		retries:    3,
		backoff:    500 * time.Millisecond,
		logger:     log.Default(),
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// BaseURL returns the server URL the client talks to.
func (c *Client) BaseURL() string { return c.baseURL }

// SendHeartbeat records a heartbeat. Unknown heartbeat names yield an *APIError with StatusCode 404.
func (c *Client) SendHeartbeat(ctx context.Context, hb Heartbeat) error {
	if hb.Status == "" {
		hb.Status = StatusUp
	}
	hb.Status = strings.ToUpper(hb.Status)
	return c.do(ctx, http.MethodPost, "/heartbeat", nil, hb, nil)
}

// GetHeartbeats lists recent heartbeats, newest first.
func (c *Client) GetHeartbeats(ctx context.Context, q HeartbeatQuery) ([]HeartbeatRecord, error) {
	query := url.Values{}
	if q.HeartbeatName != "" {
		query.Set("heartbeat_name", q.HeartbeatName)
	}
	if q.ServiceName != "" {
		query.Set("service_name", q.ServiceName)
	}
	if q.MaxCount > 0 {
		query.Set("maxCount", strconv.Itoa(q.MaxCount))
	}
	var out []HeartbeatRecord
	err := c.do(ctx, http.MethodGet, "/heartbeat", query, nil, &out)
	return out, err
}

// RegisterService registers a service; registering an existing one is not an
// error. It returns the stored record.
func (c *Client) RegisterService(ctx context.Context, svc Service) (map[string]any, error) {
	var out map[string]any
	err := c.do(ctx, http.MethodPost, "/service", nil, svc, &out)
	return out, err
}

// GetService returns one service record; unknown names yield an *APIError with StatusCode 404.
// Its flags (active, muted, down) are the numbers 0 or 1, as the original Medic answered them.
func (c *Client) GetService(ctx context.Context, heartbeatName string) (map[string]any, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/service/"+url.PathEscape(heartbeatName), nil, nil, &raw); err != nil {
		return nil, err
	}
	// A one-element list (the original Medic's shape); servers before that answered the record itself.
	var list []map[string]any
	if err := json.Unmarshal(raw, &list); err == nil {
		if len(list) == 0 {
			return nil, nil
		}
		return list[0], nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("medic: decoding GET /service reply: %w", err)
	}
	return out, nil
}

// StartJob signals that a run of job name started. With an empty runID the
// server generates one; the run ID is returned either way.
func (c *Client) StartJob(ctx context.Context, name, runID string) (string, error) {
	return c.jobSignal(ctx, name, "start", runID, "")
}

// CompleteJob signals that a run finished; an empty runID closes the newest open run.
func (c *Client) CompleteJob(ctx context.Context, name, runID string) (string, error) {
	return c.jobSignal(ctx, name, "complete", runID, "")
}

// FailJob signals that a run failed, with an optional reason.
func (c *Client) FailJob(ctx context.Context, name, runID, message string) (string, error) {
	return c.jobSignal(ctx, name, "fail", runID, message)
}

type runIDKey struct{}

// RunIDFromContext returns the run ID that RunJob put in fn's context.
func RunIDFromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(runIDKey{}).(string)
	return id, ok
}

// RunJob reports one run of fn: it signals start, calls fn, then signals complete,
// or fail with fn's error (or panic, which is then re-raised). fn runs even when
// Medic cannot be reached: signal failures go to the client's logger, and RunJob
// returns fn's error unchanged.
func (c *Client) RunJob(ctx context.Context, name string, fn func(ctx context.Context) error) (err error) {
	// Generated client-side so that a retried start and the closing signal name the
	// same run even when runs of this job overlap.
	runID := newRunID()
	if _, serr := c.StartJob(ctx, name, runID); serr != nil {
		c.logger.Printf("medic: job %q start: %v", name, serr)
	}
	defer func() {
		signalCtx := ctx
		if ctx.Err() != nil {
			// A cancelled job must still be reported.
			var cancel context.CancelFunc
			signalCtx, cancel = context.WithTimeout(context.Background(), c.timeout)
			defer cancel()
		}
		if p := recover(); p != nil {
			if _, serr := c.FailJob(signalCtx, name, runID, fmt.Sprintf("panic: %v", p)); serr != nil {
				c.logger.Printf("medic: job %q fail: %v", name, serr)
			}
			panic(p)
		}
		var serr error
		if err != nil {
			_, serr = c.FailJob(signalCtx, name, runID, err.Error())
		} else {
			_, serr = c.CompleteJob(signalCtx, name, runID)
		}
		if serr != nil {
			c.logger.Printf("medic: job %q finish: %v", name, serr)
		}
	}()
	return fn(context.WithValue(ctx, runIDKey{}, runID))
}

func (c *Client) jobSignal(ctx context.Context, name, action, runID, message string) (string, error) {
	body := map[string]string{}
	if runID != "" {
		body["run_id"] = runID
	}
	if message != "" {
		// The server counts characters, not bytes; cutting on a rune boundary also
		// keeps the JSON valid UTF-8.
		if runes := []rune(message); len(runes) > maxMessageLen {
			message = string(runes[:maxMessageLen])
		}
		body["message"] = message
	}
	var out struct {
		RunID string `json:"run_id"`
	}
	path := "/v2/heartbeat/" + url.PathEscape(name) + "/" + action
	if err := c.do(ctx, http.MethodPost, path, nil, body, &out); err != nil {
		return runID, err
	}
	if out.RunID == "" {
		out.RunID = runID
	}
	return out.RunID, nil
}

type envelope struct {
	Success bool            `json:"success"`
	Message string          `json:"message"`
	Results json.RawMessage `json:"results"`
}

// do sends one request with retries and decodes the envelope's results into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return fmt.Errorf("medic: encoding request: %w", err)
		}
	}
	target := c.baseURL + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}

	for attempt := 1; ; attempt++ {
		env, status, retryAfter, err := c.attempt(ctx, method, target, payload)
		if err == nil && status >= 200 && status < 300 {
			if out != nil && len(env.Results) > 0 && string(env.Results) != "null" {
				if err := json.Unmarshal(env.Results, out); err != nil {
					return fmt.Errorf("medic: decoding %s %s reply: %w", method, path, err)
				}
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("medic: %s %s: %w", method, path, ctx.Err())
		}
		retryable := err != nil || status == http.StatusTooManyRequests || status >= 500
		if !retryable || attempt > c.retries {
			if err != nil {
				return fmt.Errorf("medic: cannot reach %s (%s %s), gave up after %d attempt(s): %w",
					c.baseURL, method, path, attempt, err)
			}
			msg := env.Message
			if msg == "" {
				msg = http.StatusText(status)
			}
			return &APIError{StatusCode: status, Message: msg}
		}
		delay := c.delay(attempt, retryAfter)
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return fmt.Errorf("medic: %s %s: %w", method, path, ctx.Err())
		case <-timer.C:
		}
	}
}

func (c *Client) attempt(ctx context.Context, method, target string, payload []byte) (envelope, int, string, error) {
	var env envelope
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var reader io.Reader
	if payload != nil {
		reader = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, target, reader)
	if err != nil {
		return env, 0, "", err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "medic-go/"+Version)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.apiKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return env, 0, "", err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return env, 0, "", err
	}
	if jerr := json.Unmarshal(raw, &env); jerr != nil {
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			return env, 0, "", fmt.Errorf("reply is not JSON: %w", jerr)
		}
		// A proxy's HTML error page: keep a hint of it for the error message.
		env.Message = strings.TrimSpace(string(truncate(raw, 200)))
	}
	return env, resp.StatusCode, resp.Header.Get("Retry-After"), nil
}

func (c *Client) delay(attempt int, retryAfter string) time.Duration {
	if d, ok := parseRetryAfter(retryAfter); ok {
		return d
	}
	if c.backoff <= 0 {
		return 0
	}
	d := c.backoff << (attempt - 1)
	if d > maxBackoff || d <= 0 { // d <= 0: the shift overflowed
		d = maxBackoff
	}
	// Jitter keeps a fleet of clients from retrying in lock-step after an outage.
	return d/2 + time.Duration(mathrand.Int63n(int64(d/2)+1))
}

func parseRetryAfter(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		d = time.Duration(secs * float64(time.Second))
	} else if when, err := http.ParseTime(v); err == nil {
		d = time.Until(when)
	} else {
		return 0, false
	}
	if d < 0 {
		d = 0
	}
	if d > maxRetryAfter {
		d = maxRetryAfter
	}
	return d, true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

func newRunID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return hex.EncodeToString(b[:])
}

// IsNotFound reports whether err is an *APIError with status 404.
func IsNotFound(err error) bool {
	var apiErr *APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusNotFound
}
