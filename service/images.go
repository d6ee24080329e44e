package service

import (
	"regexp"
	"strings"

	"github.com/warder/warder"
)

// ImagePolicy decides which images users and admins may run. Patterns are
// globs where * matches anything, "/" and ":" included ("warder/*",
// "registry.example.com/team/*:v*"). Empty lists allow the default image only.
type ImagePolicy struct {
	Users  []string // WARDER_ALLOWED_IMAGES
	Admins []string // WARDER_ADMIN_ALLOWED_IMAGES
}

// imagePatterns are the patterns of the images u may run, and the
// variable that sets them.
func (s *Agents) imagePatterns(u *warder.User) ([]string, string) {
	patterns, env := s.cfg.Images.Users, "WARDER_ALLOWED_IMAGES"
	if u.IsAdmin() {
		patterns, env = s.cfg.Images.Admins, "WARDER_ADMIN_ALLOWED_IMAGES"
	}
	if len(patterns) == 0 {
		patterns = []string{s.cfg.DefaultImage}
	}
	return patterns, env
}

// imagesAllowed is the image policy as u sees it (see warder.Usage).
func (s *Agents) imagesAllowed(u *warder.User) warder.ImagesAllowed {
	patterns, _ := s.imagePatterns(u)
	return warder.ImagesAllowed{Default: s.cfg.DefaultImage, Allowed: append([]string(nil), patterns...)}
}

// checkImage refuses an image the caller's policy does not allow.
func (s *Agents) checkImage(caller *warder.User, image string) error {
	patterns, env := s.imagePatterns(caller)
	for _, p := range patterns {
		if globMatch(p, image) {
			return nil
		}
	}
	return warder.Errorf(warder.ErrForbidden, "image %q is not allowed by the image policy (%s: %s)", image, env, strings.Join(patterns, ", "))
}

// globMatch matches image against a pattern whose only wildcard is *.
func globMatch(pattern, image string) bool {
	parts := strings.Split(pattern, "*")
	for i := range parts {
		parts[i] = regexp.QuoteMeta(parts[i])
	}
	re, err := regexp.Compile("^" + strings.Join(parts, ".*") + "$")
	return err == nil && re.MatchString(image)
}
