package medic_test

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
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	medic "github.com/medic/medic-go"
)

// A real Medic server (python -m medic run) is started once for the package.
var (
	openURL    string // MEDIC_AUTH=disabled
	authURL    string // MEDIC_AUTH=required
	adminKey   string
	skipReason string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	python := medicPython()
	probe := exec.Command(python, "-c", "import importlib.util as u, sys; sys.exit(u.find_spec('medic') is None or u.find_spec('medic.__main__') is None)")
	if out, err := probe.CombinedOutput(); err != nil {
		skipReason = fmt.Sprintf("%s cannot run `-m medic` (set MEDIC_PYTHON to the server's python): %v %s", python, err, bytes.TrimSpace(out))
		if os.Getenv("MEDIC_REQUIRE_ALL_CLIENTS") == "1" {
			fmt.Fprintln(os.Stderr, "FAIL:", skipReason)
			return 1
		}
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "medic-go-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	adminKey = "test-admin-" + randomHex(16)
	open, err := startServer(python, dir, "disabled", "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer open.stop()
	auth, err := startServer(python, dir, "required", adminKey)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer auth.stop()
	openURL, authURL = open.url, auth.url
	return m.Run()
}

func medicPython() string {
	if p := os.Getenv("MEDIC_PYTHON"); p != "" {
		return p
	}
	if abs, err := filepath.Abs(filepath.Join("..", "..", ".venv", "bin", "python")); err == nil {
		if _, err := os.Stat(abs); err == nil {
			return abs
		}
	}
	return "python3"
}

type server struct {
	url    string
	cmd    *exec.Cmd
	log    *os.File
	exited chan struct{}
}

func startServer(python, dir, auth, key string) (*server, error) {
	port := freePort()
	logFile, err := os.Create(filepath.Join(dir, fmt.Sprintf("server-%d.log", port)))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(python, "-m", "medic", "run")
	env := []string{}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MEDIC_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"HOST=127.0.0.1",
		fmt.Sprintf("PORT=%d", port),
		fmt.Sprintf("MEDIC_DATABASE_URL=sqlite:///%s/medic-%d.db", dir, port),
		"MEDIC_AUTH="+auth,
		"WORKER_INTERVAL_SECONDS=60",
		"LOG_FORMAT=text",
	)
	if key != "" {
		env = append(env, "MEDIC_ADMIN_API_KEY="+key)
	}
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	s := &server{url: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, log: logFile, exited: exited}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return nil, fmt.Errorf("medic server exited early:\n%s", s.tail())
		default:
		}
		resp, err := http.Get(s.url + "/health/live")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("medic server not live within 30s:\n%s", s.tail())
}

func (s *server) tail() string {
	b, _ := os.ReadFile(s.log.Name())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-s.exited
	}
	s.log.Close()
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func needServer(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
	t.Setenv("MEDIC_BASE_URL", "")
	t.Setenv("MEDIC_API_KEY", "")
}

func uniqueName(t *testing.T) string {
	name := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if len(name) > 30 {
		name = name[:30]
	}
	return "go-" + name + "-" + randomHex(3)
}

func register(t *testing.T, c *medic.Client, name string) {
	t.Helper()
	if _, err := c.RegisterService(context.Background(), medic.Service{HeartbeatName: name, ServiceName: "go-client-tests", AlertInterval: 60}); err != nil {
		t.Fatalf("register %s: %v", name, err)
	}
}

// recorder is a RoundTripper that passes requests through and remembers them.
type recorder struct {
	mu    sync.Mutex
	calls []call
	next  http.RoundTripper
}

type call struct {
	Method, Path, Auth string
	Body               map[string]string
	Status             int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c := call{Method: req.Method, Path: req.URL.Path, Auth: req.Header.Get("Authorization")}
	if req.Body != nil {
		raw, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(raw))
		json.Unmarshal(raw, &c.Body)
	}
	resp, err := r.next.RoundTrip(req)
	if resp != nil {
		c.Status = resp.StatusCode
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
	return resp, err
}

func (r *recorder) jobCalls(name string) []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []call
	for _, c := range r.calls {
		if strings.Contains(c.Path, "/v2/heartbeat/"+name+"/") {
			out = append(out, c)
		}
	}
	return out
}

// serverRun returns the run as the server recorded it (GET /v2/services/<name>/runs).
func serverRun(t *testing.T, name, runID string) map[string]any {
	t.Helper()
	resp, err := http.Get(openURL + "/v2/services/" + name + "/runs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var env struct{ Results []map[string]any }
	if err := json.NewDecoder(resp.Body).Decode(&env); err != nil {
		t.Fatal(err)
	}
	for _, run := range env.Results {
		if run["run_id"] == runID {
			return run
		}
	}
	t.Fatalf("run %s not recorded by the server: %v", runID, env.Results)
	return nil
}

func recordingClient(url string, opts ...medic.Option) (*medic.Client, *recorder) {
	rec := &recorder{next: http.DefaultTransport}
	opts = append([]medic.Option{medic.WithHTTPClient(&http.Client{Transport: rec}), medic.WithBackoff(time.Millisecond)}, opts...)
	return medic.NewClient(url, opts...), rec
}

func TestSendHeartbeatSuccess(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	c := medic.NewClient(openURL)
	name := uniqueName(t)
	register(t, c, name)

	if err := c.SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: name, Status: "degraded"}); err != nil {
		t.Fatal(err)
	}
	if err := c.SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: name, Service: "go-client-tests"}); err != nil {
		t.Fatal(err)
	}
	beats, err := c.GetHeartbeats(ctx, medic.HeartbeatQuery{HeartbeatName: name, MaxCount: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(beats) != 2 || beats[0].Status != medic.StatusUp || beats[1].Status != medic.StatusDegraded {
		t.Fatalf("want [UP DEGRADED] newest first, got %+v", beats)
	}
	if beats[0].HeartbeatName != name || beats[0].Time.IsZero() {
		t.Fatalf("bad record %+v", beats[0])
	}
}

func TestRegisterServiceIdempotent(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	c := medic.NewClient(openURL)
	name := uniqueName(t)
	svc := medic.Service{HeartbeatName: name, ServiceName: "go-client-tests", AlertInterval: 5, Priority: "p4", Team: "sre"}
	first, err := c.RegisterService(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.RegisterService(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	if first["heartbeat_name"] != name || again["heartbeat_name"] != name {
		t.Fatalf("records: %v / %v", first, again)
	}
	got, err := c.GetService(ctx, name)
	if err != nil || got["heartbeat_name"] != name {
		t.Fatalf("GetService: %v %v", got, err)
	}
	if got["active"] != float64(1) || got["muted"] != float64(0) || got["down"] != float64(0) {
		t.Fatalf("GetService flags: want 0/1 numbers, got %v %v %v", got["active"], got["muted"], got["down"])
	}
	if _, err := c.GetService(ctx, name+"-missing"); !medic.IsNotFound(err) {
		t.Fatalf("want 404 for unknown service, got %v", err)
	}
}

func TestRegisterServiceWithCronSchedule(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	c := medic.NewClient(openURL)
	name := uniqueName(t)
	svc := medic.Service{HeartbeatName: name, ServiceName: "nightly", Schedule: &medic.Schedule{
		Cron: "0 3 * * *", Timezone: "Europe/Berlin", Grace: 600, StartMargin: 300, MaxRuntime: 3600, MinRuntime: 60}}
	record, err := c.RegisterService(ctx, svc)
	if err != nil {
		t.Fatal(err)
	}
	schedule, _ := record["schedule"].(map[string]any)
	if schedule["kind"] != "cron" || schedule["description"] != "at 03:00 every day, Europe/Berlin" {
		t.Fatalf("schedule: %v", record["schedule"])
	}
	if schedule["start_margin"] != float64(300) || schedule["max_runtime"] != float64(3600) ||
		schedule["min_runtime"] != float64(60) || record["grace_period_seconds"] != float64(600) {
		t.Fatalf("schedule limits: %v (grace %v)", schedule, record["grace_period_seconds"])
	}
	got, err := c.GetService(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := got["schedule"].(map[string]any); s["timezone"] != "Europe/Berlin" {
		t.Fatalf("GetService schedule: %v", got["schedule"])
	}
	_, err = c.RegisterService(ctx, medic.Service{HeartbeatName: name + "-bad", ServiceName: "nightly",
		Schedule: &medic.Schedule{Cron: "0 3 * * *", Timezone: "Mars/Olympus"}})
	var apiErr *medic.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 || !strings.Contains(apiErr.Message, "schedule.timezone") {
		t.Fatalf("want a 400 naming schedule.timezone, got %v", err)
	}
}

func TestUnknownHeartbeatIsAPIError(t *testing.T) {
	needServer(t)
	c, rec := recordingClient(openURL)
	err := c.SendHeartbeat(context.Background(), medic.Heartbeat{HeartbeatName: "go-no-such-heartbeat", Status: medic.StatusUp})
	var apiErr *medic.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Message == "" {
		t.Fatalf("want *APIError 404 with a message, got %#v", err)
	}
	if len(rec.calls) != 1 {
		t.Fatalf("a 404 must not be retried; %d attempts", len(rec.calls))
	}
}

func TestInvalidRegistrationIsAPIError(t *testing.T) {
	needServer(t)
	c := medic.NewClient(openURL)
	_, err := c.RegisterService(context.Background(), medic.Service{HeartbeatName: uniqueName(t), ServiceName: "x", AlertInterval: 0})
	var apiErr *medic.APIError
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 400 {
		t.Fatalf("want *APIError 400, got %v", err)
	}
}

func TestServerDownRetriesThenFails(t *testing.T) {
	needServer(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d", freePort())
	c, rec := recordingClient(closed, medic.WithRetries(3))
	err := c.SendHeartbeat(context.Background(), medic.Heartbeat{HeartbeatName: "anything"})
	if err == nil {
		t.Fatal("want an error from a closed port")
	}
	if len(rec.calls) != 4 {
		t.Fatalf("want 4 attempts (1 + 3 retries), got %d", len(rec.calls))
	}
	for _, want := range []string{"cannot reach " + closed, "gave up after 4 attempt"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error %q lacks %q", err, want)
		}
	}
	var apiErr *medic.APIError
	if errors.As(err, &apiErr) {
		t.Fatal("a connection failure is not an APIError")
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	needServer(t)
	closed := fmt.Sprintf("http://127.0.0.1:%d", freePort())
	c := medic.NewClient(closed, medic.WithRetries(10), medic.WithBackoff(time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: "anything"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want DeadlineExceeded, got %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Fatalf("retries outlived the context: %v", time.Since(start))
	}
}

func TestAPIKeySent(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	keyed, rec := recordingClient(authURL, medic.WithAPIKey(adminKey))
	name := uniqueName(t)
	register(t, keyed, name)
	if err := keyed.SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: name, Status: medic.StatusUp}); err != nil {
		t.Fatalf("with key: %v", err)
	}
	if rec.calls[len(rec.calls)-1].Auth != "Bearer "+adminKey {
		t.Fatalf("Authorization header not sent: %+v", rec.calls)
	}

	var apiErr *medic.APIError
	err := medic.NewClient(authURL).SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: name})
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("without key: want 401, got %v", err)
	}
	err = medic.NewClient(authURL, medic.WithAPIKey("not-a-key")).SendHeartbeat(ctx, medic.Heartbeat{HeartbeatName: name})
	if !errors.As(err, &apiErr) || (apiErr.StatusCode != 401 && apiErr.StatusCode != 403) {
		t.Fatalf("wrong key: want 401/403, got %v", err)
	}
}

func TestSettingsFromEnvironment(t *testing.T) {
	needServer(t)
	name := uniqueName(t)
	register(t, medic.NewClient(authURL, medic.WithAPIKey(adminKey)), name)
	t.Setenv("MEDIC_BASE_URL", authURL+"/")
	t.Setenv("MEDIC_API_KEY", adminKey)
	c := medic.NewClient("")
	if c.BaseURL() != authURL {
		t.Fatalf("BaseURL %q", c.BaseURL())
	}
	if err := c.SendHeartbeat(context.Background(), medic.Heartbeat{HeartbeatName: name}); err != nil {
		t.Fatal(err)
	}
}

func TestRunJobSuccess(t *testing.T) {
	needServer(t)
	c, rec := recordingClient(openURL)
	name := uniqueName(t)
	register(t, c, name)
	var seen string
	err := c.RunJob(context.Background(), name, func(ctx context.Context) error {
		seen, _ = medic.RunIDFromContext(ctx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	calls := rec.jobCalls(name)
	if len(calls) != 2 || !strings.HasSuffix(calls[0].Path, "/start") || !strings.HasSuffix(calls[1].Path, "/complete") {
		t.Fatalf("want start, complete; got %+v", calls)
	}
	for _, cl := range calls {
		if cl.Status != 201 || cl.Body["run_id"] != seen || seen == "" {
			t.Fatalf("bad signal %+v (run id %q)", cl, seen)
		}
	}
	if run := serverRun(t, name, seen); run["state"] != "succeeded" {
		t.Fatalf("server recorded %v", run)
	}
}

func TestRunJobFailure(t *testing.T) {
	needServer(t)
	c, rec := recordingClient(openURL)
	name := uniqueName(t)
	register(t, c, name)
	boom := errors.New("disk full")
	if err := c.RunJob(context.Background(), name, func(context.Context) error { return boom }); err != boom {
		t.Fatalf("RunJob must return fn's error unchanged, got %v", err)
	}
	calls := rec.jobCalls(name)
	if len(calls) != 2 || !strings.HasSuffix(calls[1].Path, "/fail") || calls[1].Status != 201 {
		t.Fatalf("want start, fail; got %+v", calls)
	}
	if calls[1].Body["message"] != "disk full" || calls[1].Body["run_id"] != calls[0].Body["run_id"] {
		t.Fatalf("bad fail signal %+v", calls[1])
	}
	if run := serverRun(t, name, calls[0].Body["run_id"]); run["state"] != "failed" || run["message"] != "disk full" {
		t.Fatalf("server recorded %v", run)
	}
}

func TestRunJobPanicIsReportedAndReraised(t *testing.T) {
	needServer(t)
	c, rec := recordingClient(openURL)
	name := uniqueName(t)
	register(t, c, name)
	func() {
		defer func() {
			if p := recover(); p != "kaboom" {
				t.Fatalf("panic not re-raised: %v", p)
			}
		}()
		c.RunJob(context.Background(), name, func(context.Context) error { panic("kaboom") })
	}()
	calls := rec.jobCalls(name)
	if len(calls) != 2 || calls[1].Body["message"] != "panic: kaboom" || calls[1].Status != 201 {
		t.Fatalf("want a fail signal for the panic, got %+v", calls)
	}
}

func TestRunJobStillRunsWhenMedicIsDown(t *testing.T) {
	needServer(t)
	var logged bytes.Buffer
	closed := fmt.Sprintf("http://127.0.0.1:%d", freePort())
	c := medic.NewClient(closed, medic.WithRetries(1), medic.WithBackoff(time.Millisecond), medic.WithLogger(log.New(&logged, "", 0)))
	ran := false
	if err := c.RunJob(context.Background(), "go-anything", func(context.Context) error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("ran=%v err=%v", ran, err)
	}
	if !strings.Contains(logged.String(), "start") || !strings.Contains(logged.String(), "finish") {
		t.Fatalf("signal failures not logged: %q", logged.String())
	}
}

func TestJobSignalsWithoutRunID(t *testing.T) {
	needServer(t)
	ctx := context.Background()
	c := medic.NewClient(openURL)
	name := uniqueName(t)
	register(t, c, name)
	runID, err := c.StartJob(ctx, name, "")
	if err != nil || runID == "" {
		t.Fatalf("start: %q %v", runID, err)
	}
	closed, err := c.CompleteJob(ctx, name, "")
	if err != nil || closed != runID {
		t.Fatalf("complete closed %q, want %q (%v)", closed, runID, err)
	}
	if id, err := c.FailJob(ctx, name, "", "no run open"); err == nil && id == runID {
		t.Fatalf("fail without an open run closed the completed run %q", id)
	}
	if _, err := c.StartJob(ctx, "go-no-such-job", ""); !medic.IsNotFound(err) {
		t.Fatalf("want 404 for an unknown job, got %v", err)
	}
}
