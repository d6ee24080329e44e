package api

import (
	"net/http"

	"github.com/warder/warder"
)

// healthz answers as long as the process serves: liveness, for a probe
// that restarts it.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, warder.HealthResponse{Status: "ok"})
}

// readyz answers 200 only when the store and the runtime answer too:
// readiness, for a load balancer deciding whether to send traffic.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	if err := s.ready(r.Context()); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, warder.HealthResponse{Status: "ready"})
}

// metricsPage serves the Prometheus metrics.
func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) error {
	if s.metrics == nil {
		return warder.Errorf(warder.ErrNotFound, "metrics are not enabled on this server")
	}
	s.metrics.ServeHTTP(w, r)
	return nil
}
