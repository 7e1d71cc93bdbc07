package config

import (
	"fmt"
	"net"
	"os"

	"github.com/edgecam/edgecam/internal/iothub"
)

// Warnings are settings that are valid but probably not what was meant, each with its key.
func (c *Config) Warnings() []string {
	var w []string
	if c.Azure.CAFile != "" {
		if host, key := c.azureHost(); host != "" && !isLoopback(host) {
			w = append(w, fmt.Sprintf("azure.caFile: %s is trusted for %s (%s), which is not this machine: a CA file is for the local emulator; "+
				"Azure's certificates chain to public roots, so leave caFile empty for Azure, or make sure the file holds only a CA you control", c.Azure.CAFile, host, key))
		}
	}
	for i, cam := range c.Cameras {
		if cam.DeviceKeyFile == "" {
			continue
		}
		if st, err := os.Stat(cam.DeviceKeyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
			w = append(w, fmt.Sprintf("cameras[%d].deviceKeyFile: %s is readable by other users (mode %v): chmod 600 it, owned by the user edgecam runs as", i, cam.DeviceKeyFile, st.Mode().Perm()))
		}
	}
	return w
}

// azureHost is the host the device dials first, with the key it comes from.
func (c *Config) azureHost() (host, key string) {
	hostport := c.Azure.DPS.GlobalEndpoint
	key = "azure.dps.globalEndpoint"
	if c.Azure.ConnectionString != "" {
		cs, err := iothub.ParseConnectionString(c.Azure.ConnectionString)
		if err != nil {
			return "", ""
		}
		hostport, key = cs.HostName, "azure.connectionString HostName"
		if cs.GatewayHostName != "" {
			hostport, key = cs.GatewayHostName, "azure.connectionString GatewayHostName"
		}
	}
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h, key
	}
	return hostport, key
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
