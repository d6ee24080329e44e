package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
	"github.com/warder/warder/internal/testkit/apitest"
)

// TestAuthRules: duplicate accounts, wrong passwords and the first admin.
func TestAuthRules(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t)
	root := ts.register(t, "root")
	var me map[string]any
	root.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me["role"] != "admin" {
		t.Fatalf("first user role = %v", me["role"])
	}
	alice := ts.register(t, "alice")
	alice.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me["role"] != "user" {
		t.Fatalf("second user role = %v", me["role"])
	}
	anon := &apitest.Client{T: t, Base: ts.URL}
	for _, body := range []map[string]string{
		{"username": "ALICE", "email": "other@example.com", "password": "password-x"},
		{"username": "alice2", "email": "Alice@Example.com", "password": "password-x"},
	} {
		status, raw := anon.Do("POST", "/api/auth/register", body)
		if status != http.StatusConflict {
			t.Errorf("duplicate register %v = %d %s", body, status, raw)
		}
	}
	status, raw := anon.Do("POST", "/api/auth/register", map[string]string{"username": "carol", "email": "carol@example.com", "password": "secret-password"})
	if status != 201 || strings.Contains(string(raw), "secret-password") || strings.Contains(string(raw), "hash") {
		t.Fatalf("register = %d %s", status, raw)
	}
	for _, login := range []map[string]string{
		{"username": "alice", "password": "wrong-password"},
		{"username": "nobody", "password": "wrong-password"},
	} {
		status, raw := anon.Do("POST", "/api/auth/login", login)
		if status != 401 || apitest.DetailOf(t, raw) != "incorrect username or password" {
			t.Errorf("login %v = %d %s", login, status, raw)
		}
	}
	if status, raw := apitest.TokenForm(t, ts.URL, "alice", "wrong"); status != 401 {
		t.Fatalf("token form with a wrong password = %d %s", status, raw)
	}
}

// TestLoginThrottling: failed logins are refused for a while with 429 and
// Retry-After, the same for an account that exists and one that does not.
func TestLoginThrottling(t *testing.T) {
	// Not parallel: the first lock lasts a second, and the test must make
	// its attempts within it.
	ts := newAPIServer(t)
	ts.register(t, "root")
	anon := &apitest.Client{T: t, Base: ts.URL}
	for _, login := range []string{"root", "ghost"} {
		var status int
		var raw []byte
		for i := 0; i < 7; i++ {
			status, raw = anon.Do("POST", "/api/auth/login", map[string]string{"username": login, "password": "wrong-password"})
		}
		if status != http.StatusTooManyRequests || !strings.Contains(apitest.DetailOf(t, raw), "too many failed logins") {
			t.Fatalf("%s after 7 failures: %d %s", login, status, raw)
		}
		if login != "root" {
			continue
		}
		// At once, while the lock holds (the ghost's failures take longer
		// than it on a loaded machine).
		req, _ := http.NewRequest("POST", ts.URL+"/api/auth/login", strings.NewReader(`{"username": "root", "password": "password-root"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("right password while locked: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
}

// TestRegistrationClosed: with WARDER_REGISTRATION=closed the first user
// of an empty database still registers (and is the admin); everyone else
// is refused with a 403 that says admins create users, which they do
// with POST /api/admin/users.
func TestRegistrationClosed(t *testing.T) {
	t.Parallel()
	ts := newAPIServer(t, func(c *app.Config) { c.Registration = "closed" })
	admin := ts.register(t, "root")
	var me warder.User
	admin.MustDo("GET", "/api/auth/me", nil, 200, &me)
	if me.Role != warder.RoleAdmin {
		t.Fatalf("the first user on a closed server is %q", me.Role)
	}
	anon := &apitest.Client{T: t, Base: ts.URL}
	status, raw := anon.Do("POST", "/api/auth/register", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"})
	if status != http.StatusForbidden || !strings.Contains(apitest.DetailOf(t, raw), "registration is closed") || !strings.Contains(apitest.DetailOf(t, raw), "admin") {
		t.Fatalf("registering on a closed server = %d %s", status, raw)
	}
	var alice warder.User
	admin.MustDo("POST", "/api/admin/users", map[string]string{"username": "alice", "email": "alice@example.com", "password": "password-alice"}, 201, &alice)
	if alice.Role != warder.RoleUser || alice.Username != "alice" {
		t.Fatalf("created user = %+v", alice)
	}
	c := admin.Login("alice")
	c.MustDo("POST", "/api/admin/users", map[string]string{"username": "eve", "email": "eve@example.com", "password": "password-eve"}, 403, nil)
	status, raw = admin.Do("POST", "/api/admin/users", map[string]string{"username": "ALICE", "email": "other@example.com", "password": "password-x"})
	if status != http.StatusConflict || !strings.Contains(apitest.DetailOf(t, raw), "already taken") {
		t.Fatalf("creating a taken name = %d %s", status, raw)
	}
}

// TestRegistrationAbuse: a taken name is refused without the cost of a
// password hash; a flood of registrations from one address is throttled
// with 429 and Retry-After, quickly, and creates nothing.
func TestRegistrationAbuse(t *testing.T) {
	// Not parallel: it compares how long requests take.
	ts := newAPIServer(t)
	ts.register(t, "root")
	anon := &apitest.Client{T: t, Base: ts.URL}
	register := func(name, email string) (int, []byte, time.Duration) {
		start := time.Now()
		status, raw := anon.Do("POST", "/api/auth/register", map[string]string{"username": name, "email": email, "password": "password-long"})
		return status, raw, time.Since(start)
	}
	// Alternate fresh and taken names so load on the machine hits both.
	var fresh, taken []time.Duration
	for i := range 5 {
		status, raw, d := register(fmt.Sprintf("fresh%d", i), fmt.Sprintf("fresh%d@example.com", i))
		if status != 201 {
			t.Fatalf("fresh registration = %d %s", status, raw)
		}
		fresh = append(fresh, d)
		status, raw, d = register("root", fmt.Sprintf("probe%d@example.com", i))
		if status != http.StatusConflict || apitest.DetailOf(t, raw) != `username "root" is already taken` {
			t.Fatalf("taken name = %d %s", status, raw)
		}
		taken = append(taken, d)
	}
	if median(taken) > median(fresh)/4 {
		t.Fatalf("a taken name takes %s (median), a fresh one %s: the password is hashed before the name is checked", median(taken), median(fresh))
	}
	t.Logf("registration: fresh %s, taken %s (medians)", median(fresh), median(taken))

	// 100 at once from one address: the allowance (20, 11 of it spent
	// above) then 429s; nothing is created, and it is over quickly.
	statuses := make([]int, 100)
	retry := make([]string, 100)
	start := time.Now()
	apitest.Parallel(100, func(i int) {
		req, _ := http.NewRequest("POST", ts.URL+"/api/auth/register",
			strings.NewReader(fmt.Sprintf(`{"username": "root", "email": "flood%d@example.com", "password": "password-long"}`, i)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		resp.Body.Close()
		statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
	})
	elapsed := time.Since(start)
	limited := 0
	for i, s := range statuses {
		switch {
		case s == http.StatusTooManyRequests && retry[i] != "":
			limited++
		case s != http.StatusConflict:
			t.Fatalf("flood request %d = %d", i, s)
		}
	}
	if limited < 80 {
		t.Fatalf("%d of 100 flood registrations throttled; want all past the allowance", limited)
	}
	t.Logf("100 concurrent registrations of a taken name: %d throttled, over in %s", limited, elapsed.Round(time.Millisecond))
	if status, raw, _ := register("latecomer", "latecomer@example.com"); status != http.StatusTooManyRequests || !strings.Contains(apitest.DetailOf(t, raw), "too many registrations") {
		t.Fatalf("a fresh name from the throttled address = %d %s", status, raw)
	}
}

// median is the middle of ds.
func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}
