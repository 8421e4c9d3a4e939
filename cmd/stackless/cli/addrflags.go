package cli

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Every flag that takes a network address carries what it is used for, and
// checkFlags refuses a malformed one before the command's code runs: an
// invalid port such as --http :99999 used to pass until the listen, after
// a cluster or a demo had started (and an empty host first asked for TLS).
// TestEveryAddressFlagIsChecked keeps it so.

// addrAnnotation is the pflag annotation holding an address flag's use.
const addrAnnotation = "stackless_addr"

// The uses of an address flag.
const (
	addrListen = "listen" // HOST:PORT to listen on: empty host = every interface, port 0 = a free one
	addrDial   = "dial"   // HOST:PORT to reach: host and port 1-65535 needed
	addrNATS   = "nats"   // comma-separated NATS server URLs (nats://HOST:PORT, HOST:PORT)
)

// isAddress marks flag name of fs as an address of the given use.
func isAddress(fs *pflag.FlagSet, name, use string) {
	if err := fs.SetAnnotation(name, addrAnnotation, []string{use}); err != nil {
		panic(fmt.Sprintf("cli: isAddress: %v", err)) // a typo in a flag name: caught by every test
	}
}

// checkAddress returns why value is no address of the given use, or nil.
// An empty value means the flag is off and passes.
func checkAddress(use, value string) error {
	if value == "" {
		return nil
	}
	if use == addrNATS {
		for _, u := range strings.Split(value, ",") {
			if err := checkNATSURL(strings.TrimSpace(u)); err != nil {
				return err
			}
		}
		return nil
	}
	host, port, err := net.SplitHostPort(value)
	if err != nil {
		return fmt.Errorf("%q is not HOST:PORT (%v); such as 127.0.0.1:8080", value, err)
	}
	if use == addrDial && host == "" {
		return fmt.Errorf("%q names no host; give HOST:PORT such as 10.0.0.5:7070", value)
	}
	if host != "" {
		if err := checkHostName(host); err != nil { // "a b" or 256.1.1.1 asked for TLS first
			return fmt.Errorf("%q: %w", value, err)
		}
	}
	return checkPort(value, port, use == addrListen)
}

// checkHostName returns why host is neither an IP address nor a host name
// (dot-separated labels of letters, digits, hyphens), or nil.
func checkHostName(host string) error {
	if ip, _, _ := strings.Cut(host, "%"); net.ParseIP(ip) != nil { // an IPv6 zone is kept
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return fmt.Errorf("%q is not a host name or IP address", host)
	}
	digits := true
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.ContainsFunc(label, func(r rune) bool {
				return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
			}) {
			return fmt.Errorf("%q is not a host name or IP address: a name is dot-separated labels of letters, digits and hyphens", host)
		}
		digits = digits && strings.Trim(label, "0123456789") == ""
	}
	if digits {
		return fmt.Errorf("%q is not an IP address: each of its four numbers must be 0 to 255", host)
	}
	return nil
}

// checkPort checks the port of addr: a number from 0 (when zero is
// allowed: a free port) or 1 to 65535, or a service name such as http.
func checkPort(addr, port string, zero bool) error {
	least := 1
	if zero {
		least = 0
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		if _, lerr := net.LookupPort("tcp", port); lerr == nil && port != "" {
			return nil
		}
		return fmt.Errorf("%q: port %q is not a number; a port is a number from %d to 65535", addr, port, least)
	}
	if n < least || n > 65535 {
		hint := ""
		if zero {
			hint = " (0 picks a free one)"
		}
		return fmt.Errorf("%q: port %d is invalid; a port is a number from %d to 65535%s", addr, n, least, hint)
	}
	return nil
}

// checkNATSURL checks one NATS server URL as nats.go reads it: a missing
// scheme means nats://, a missing port 4222.
func checkNATSURL(s string) error {
	if s == "" {
		return fmt.Errorf("an empty NATS URL; give nats://HOST:PORT[,nats://HOST:PORT]")
	}
	raw := s
	if !strings.Contains(s, "://") {
		raw = "nats://" + s
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q is not a NATS URL (%v); such as nats://10.0.0.5:4222", s, err)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q names no host; such as nats://10.0.0.5:4222", s)
	}
	if u.Port() != "" {
		return checkPort(s, u.Port(), false)
	}
	return nil
}

// checkAddressFlag refuses, as a usage error, a value given to f that is
// no address of its use.
func checkAddressFlag(f *pflag.Flag) error {
	uses := f.Annotations[addrAnnotation]
	if !f.Changed || len(uses) == 0 {
		return nil
	}
	if err := checkAddress(uses[0], f.Value.String()); err != nil {
		return usageErrorf("--%s %w", f.Name, err)
	}
	return nil
}
