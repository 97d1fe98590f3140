package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The host side of the linux sandbox's networking: one nftables table,
// "ip gust", shared by every Gust process on the host, that
//   - sends what an environment addresses to 198.18.0.0/16 (its gateway)
//     to the host's loopback, so services listening on 127.0.0.1 only
//     are reachable (route_localnet on each gust* veth allows it);
//   - masquerades environments' traffic that leaves the host;
//   - forwards only what environments start (never environment to
//     environment, never to link-local 169.254.0.0/16, the cloud metadata
//     service) and, when Gust had to turn IPv4 forwarding on, nothing but
//     that.
//
// Gust processes coordinate through a flock on hostNetLock: each holds it
// shared while it has environments; the last to finish (the one that gets
// it exclusively) removes the table, turns forwarding back off if Gust
// turned it on (hostNetForwarding records that) and removes both files.

// Host-wide names.
const (
	hostTable         = "gust"
	vethPrefix        = "gust" // host ends: gust<index>
	hostNetLock       = "/run/gust-net.lock"
	hostNetForwarding = "/run/gust-net.forwarding"
	ipForwardSysctl   = "/proc/sys/net/ipv4/ip_forward"
)

// envNetRange holds one /30 per environment: .1 the host end (the
// gateway), .2 the environment's eth0. 198.18.0.0/15 is reserved for
// benchmarking (RFC 2544), so it is unlikely to clash with a real network.
var envNetRange = netip.MustParsePrefix("198.18.0.0/16")

// maxEnvNets is how many /30s envNetRange holds.
const maxEnvNets = 1 << (32 - 16 - 2)

// hostNet counts this process's environments with a network namespace.
var hostNet struct {
	mu    sync.Mutex
	users int
	lock  *os.File // shared flock held while users > 0
	mtu   int      // of the host's default route
}

// acquireHostNet makes sure the host rules are in place and counts one
// more environment. It returns the MTU to give the environment's veth.
func acquireHostNet() (mtu int, err error) {
	hostNet.mu.Lock()
	defer hostNet.mu.Unlock()
	if hostNet.users == 0 {
		f, err := lockHostNet()
		if err != nil {
			return 0, fmt.Errorf("host network: lock: %w", err)
		}
		if err := ensureHostRules(); err != nil {
			f.Close() // drops the lock
			return 0, fmt.Errorf("host network: %w", err)
		}
		hostNet.lock = f
		hostNet.mtu = defaultRouteMTU()
	}
	hostNet.users++
	return hostNet.mtu, nil
}

// releaseHostNet counts one environment fewer; after the last one of the
// last Gust process on the host it removes the host rules.
func releaseHostNet() error {
	hostNet.mu.Lock()
	defer hostNet.mu.Unlock()
	hostNet.users--
	if hostNet.users > 0 {
		return nil
	}
	f := hostNet.lock
	hostNet.lock = nil
	defer f.Close()
	fd := int(f.Fd())
	_ = unix.Flock(fd, unix.LOCK_UN)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil // another Gust process still has environments
	}
	err := removeHostRules()
	// Removed while locked: a process waiting on this file sees that it
	// is no longer the lock file and opens a new one.
	if rerr := os.Remove(hostNetLock); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// lockHostNet opens the lock file and takes it shared, retrying if the
// file was removed (by the last user's cleanup) while it waited.
func lockHostNet() (*os.File, error) {
	for {
		f, err := os.OpenFile(hostNetLock, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, err
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
			f.Close()
			return nil, err
		}
		var held, named unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil && unix.Stat(hostNetLock, &named) == nil &&
			held.Dev == named.Dev && held.Ino == named.Ino {
			return f, nil
		}
		f.Close()
	}
}

// hostRulesVersion names an empty chain that marks the table as
// complete and of this version of the rules.
const hostRulesVersion = "rules-v1"

// ensureHostRules turns IPv4 forwarding on if needed and, unless the
// table is already there (another process wrote it), writes the table in
// one atomic transaction, so it is safe while other processes'
// environments use it. Rewriting an existing table costs an RCU grace
// period (several ms); checking costs one netlink round trip.
func ensureHostRules() error {
	b, err := os.ReadFile(ipForwardSysctl)
	if err != nil {
		return err
	}
	forwarding := strings.TrimSpace(string(b)) != "0"
	c, err := nftables.New()
	if err != nil {
		return err
	}
	if forwarding {
		t := &nftables.Table{Family: nftables.TableFamilyIPv4, Name: hostTable}
		if ch, err := c.ListChain(t, hostRulesVersion); err == nil && ch != nil {
			return nil
		}
	}
	ours := false
	if !forwarding {
		// Recorded first: whoever removes the table restores it.
		if err := os.WriteFile(hostNetForwarding, []byte("0\n"), 0o600); err != nil {
			return err
		}
		if err := os.WriteFile(ipForwardSysctl, []byte("1"), 0); err != nil {
			return fmt.Errorf("enable ip_forward: %w", err)
		}
		ours = true
	} else if _, err := os.Stat(hostNetForwarding); err == nil {
		ours = true
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: hostTable})
	c.FlushTable(t)
	c.AddChain(&nftables.Chain{Name: hostRulesVersion, Table: t})
	accept := nftables.ChainPolicyAccept
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	fwd := c.AddChain(&nftables.Chain{Name: "forward", Table: t, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept})
	rule := func(ch *nftables.Chain, exprs ...[]expr.Any) {
		var all []expr.Any
		for _, e := range exprs {
			all = append(all, e...)
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: all})
	}
	fromEnv, toEnv := ifPrefix(expr.MetaKeyIIFNAME, true), ifPrefix(expr.MetaKeyOIFNAME, true)
	inRange := ipPrefix(16, envNetRange)
	// A loopback name server (systemd-resolved's 127.0.0.53) answers
	// the environments' DNS at the gateway.
	if ns, ok := loopbackNameserver(); ok {
		for _, proto := range []byte{unix.IPPROTO_UDP, unix.IPPROTO_TCP} {
			rule(pre, fromEnv, inRange, l4proto(proto), dport(53), dnatTo(ns))
		}
	}
	rule(pre, fromEnv, inRange, dnatTo(netip.MustParseAddr("127.0.0.1")))
	rule(post, ipPrefix(12, envNetRange), ifPrefix(expr.MetaKeyOIFNAME, false), []expr.Any{&expr.Masq{}})
	rule(fwd, fromEnv, toEnv, verdict(expr.VerdictDrop))
	rule(fwd, fromEnv, ipPrefix(16, netip.MustParsePrefix("169.254.0.0/16")), verdict(expr.VerdictDrop))
	rule(fwd, fromEnv, verdict(expr.VerdictAccept))
	rule(fwd, toEnv, ctEstablished(), verdict(expr.VerdictAccept))
	rule(fwd, toEnv, verdict(expr.VerdictDrop))
	if ours {
		// Forwarding was off: it stays off for everything but Gust.
		rule(fwd, verdict(expr.VerdictDrop))
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables table %s: %w", hostTable, err)
	}
	return nil
}

// removeHostRules deletes the table and restores ip_forward. Gust's
// veths are gone by then (each environment deletes its own).
func removeHostRules() error {
	var errs []error
	c, err := nftables.New()
	if err == nil {
		c.DelTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: hostTable})
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("remove nftables table %s: %w", hostTable, err))
		}
	} else {
		errs = append(errs, err)
	}
	if _, err := os.Stat(hostNetForwarding); err == nil {
		if err := os.WriteFile(ipForwardSysctl, []byte("0"), 0); err != nil {
			errs = append(errs, fmt.Errorf("restore ip_forward: %w", err))
		} else {
			errs = append(errs, os.Remove(hostNetForwarding))
		}
	}
	return errors.Join(errs...)
}

// defaultRouteMTU is the MTU of the interface of the host's IPv4 default
// route (1500 if there is none), so environments' packets fit it.
func defaultRouteMTU() int {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst != nil && r.Dst.String() != "0.0.0.0/0" {
			continue
		}
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU >= 1280 {
			return l.Attrs().MTU
		}
	}
	return 1500
}

// loopbackNameserver is the first name server of the host's resolv.conf
// if it is a loopback address other than 127.0.0.1.
func loopbackNameserver() (netip.Addr, bool) {
	f, err := os.Open(filepath.Join("/etc", "resolv.conf"))
	if err != nil {
		return netip.Addr{}, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		a, err := netip.ParseAddr(fields[1])
		if err != nil {
			continue
		}
		if a.Is4() && a.IsLoopback() && a != netip.MustParseAddr("127.0.0.1") {
			return a, true
		}
		return netip.Addr{}, false
	}
	return netip.Addr{}, false
}

// Rule fragments (register 1 throughout).

// ifPrefix matches an interface name (iifname/oifname) starting with
// vethPrefix, or not.
func ifPrefix(key expr.MetaKey, eq bool) []expr.Any {
	op := expr.CmpOpEq
	if !eq {
		op = expr.CmpOpNeq
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: op, Register: 1, Data: []byte(vethPrefix)},
	}
}

// ifName matches one interface name exactly.
func ifName(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// ipPrefix matches the IPv4 source (offset 12) or destination (16) in
// p, whose length must be a multiple of 8.
func ipPrefix(offset uint32, p netip.Prefix) []expr.Any {
	n := uint32(p.Bits() / 8)
	a := p.Addr().As4()
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: n},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:n]},
	}
}

func l4proto(p byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}},
	}
}

// dport matches the TCP/UDP destination port (after l4proto).
func dport(port uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(port)},
	}
}

func dnatTo(a netip.Addr) []expr.Any {
	b := a.As4()
	return []expr.Any{
		&expr.Immediate{Register: 1, Data: b[:]},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
	}
}

// ctEstablished matches packets of connections already accepted.
func ctEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED),
			Xor:  binaryutil.NativeEndian.PutUint32(0)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(0)},
	}
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

// ipv4 renders a as a net.IP.
func ipv4(a netip.Addr) net.IP { b := a.As4(); return net.IP(b[:]) }
