package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/warder/warder"
)

// scanAgents reads every row of agentColumns and closes rows. The result is
// never nil.
func scanAgents(rows *sql.Rows, decoded *decodedCache) ([]*warder.Agent, error) {
	defer rows.Close()
	agents := []*warder.Agent{}
	for rows.Next() {
		var (
			a                       warder.Agent
			config, containerConfig []byte
			kb                      sql.NullString
			port, exitCode          sql.NullInt64
		)
		err := rows.Scan(&a.ID, &a.UserID, &a.Name, &a.Description, &a.Type, &config, &containerConfig,
			&a.Status, &a.ContainerID, &a.ContainerName, &a.ContainerStatus, &port,
			utcTime{&a.CreatedAt}, utcTime{&a.UpdatedAt},
			&exitCode, &a.RestartCount, &a.StatusReason, nullUTCTime{&a.StatusChangedAt}, nullUTCTime{&a.LastUsedAt}, &a.SealedSecrets, &a.Health, &kb)
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read agent: %w", err)
		}
		if a.Config, err = decoded.config(config); err != nil {
			return nil, fmt.Errorf("sqlstore: agent %s: decode config: %w", a.ID, err)
		}
		if a.ContainerConfig, err = decoded.container(containerConfig); err != nil {
			return nil, fmt.Errorf("sqlstore: agent %s: decode container_config: %w", a.ID, err)
		}
		if kb.Valid {
			if err := json.Unmarshal([]byte(kb.String), &a.KnowledgeBase); err != nil {
				return nil, fmt.Errorf("sqlstore: agent %s: decode knowledge_base: %w", a.ID, err)
			}
		}
		a.HostPort = int(port.Int64)
		if exitCode.Valid {
			code := int(exitCode.Int64)
			a.ExitCode = &code
		}
		fillMaps(&a)
		agents = append(agents, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlstore: read agents: %w", err)
	}
	return agents, nil
}

// encodeConfigs returns a's config and container_config as the JSON text
// stored, and makes a's nil maps empty, as they will read back.
func encodeConfigs(a *warder.Agent) (config, containerConfig string, err error) {
	fillMaps(a)
	c, err := json.Marshal(a.Config)
	if err != nil {
		return "", "", warder.Errorf(warder.ErrInvalid, "config cannot be stored as JSON: %v", err)
	}
	// Secret values travel sealed, in their own column; never in clear here.
	clean := a.ContainerConfig
	clean.SecretEnv = nil
	cc, err := json.Marshal(clean)
	if err != nil {
		return "", "", fmt.Errorf("sqlstore: encode container_config: %w", err)
	}
	return string(c), string(cc), nil
}

// encodeKnowledgeBase is a's knowledge_base as stored: JSON text, or NULL
// for none (read back as {}).
func encodeKnowledgeBase(a *warder.Agent) (any, error) {
	if len(a.KnowledgeBase) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(a.KnowledgeBase)
	if err != nil {
		return nil, warder.Errorf(warder.ErrInvalid, "knowledge_base cannot be stored as JSON: %v", err)
	}
	return string(b), nil
}

// fillMaps replaces a's nil maps with empty ones, so callers can range and
// index them, and the API shows {} rather than null.
func fillMaps(a *warder.Agent) {
	if a.Config == nil {
		a.Config = map[string]any{}
	}
	if a.KnowledgeBase == nil {
		a.KnowledgeBase = map[string]any{}
	}
	if a.ContainerConfig.EnvVars == nil {
		a.ContainerConfig.EnvVars = map[string]string{}
	}
}

// nullPort is the host_port column for port: NULL for none, so the unique
// index lets any number of agents hold no port.
func nullPort(port int) any {
	if port == 0 {
		return nil
	}
	return port
}
