package service

import "github.com/warder/warder"

// checkIsolation refuses, at the request, an isolation level the runtime
// does not offer (warder.ResolveIsolation: ErrInvalid naming those it
// does), rather than at the agent's next start. An empty level is the
// operator's default, which the runtime applies at each create of the
// container, so an agent that names none follows a changed default.
func (s *Agents) checkIsolation(cc *warder.ContainerConfig) error {
	if cc.Isolation == "" {
		return nil
	}
	l, err := warder.ResolveIsolation(cc.Isolation, s.rt.Info().Isolations)
	if err != nil {
		return err
	}
	cc.Isolation = string(l)
	return nil
}
