package api_test

import (
	"slices"
	"testing"

	"github.com/warder/warder"
	"github.com/warder/warder/internal/app"
)

// TestUsageShowsImagePolicy: GET /api/system/limits (and an admin's view
// of a user's limits) names the default image and the patterns of images
// that user may run, the admins' own for an admin, so a client can offer
// them.
func TestUsageShowsImagePolicy(t *testing.T) {
	t.Parallel()
	s := newAPIServer(t, func(c *app.Config) {
		c.AllowedImages = []string{"warder/*", "python:3.*"}
		c.AdminAllowedImages = []string{"*"}
	})
	root := s.register(t, "root")
	alice := s.register(t, "alice")
	var mine, hers, own warder.Usage
	alice.MustDo("GET", "/api/system/limits", nil, 200, &mine)
	root.MustDo("GET", "/api/admin/users/"+alice.UserID+"/limits", nil, 200, &hers)
	root.MustDo("GET", "/api/system/limits", nil, 200, &own)
	if mine.Images.Default != s.Config.Image || !slices.Equal(mine.Images.Allowed, []string{"warder/*", "python:3.*"}) {
		t.Fatalf("alice's images: %+v", mine.Images)
	}
	if !slices.Equal(hers.Images.Allowed, mine.Images.Allowed) || !slices.Equal(own.Images.Allowed, []string{"*"}) {
		t.Fatalf("as the admin sees them: alice %+v, root %+v", hers.Images, own.Images)
	}
}
