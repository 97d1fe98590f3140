package sandbox

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// An environment's network: its init is cloned into a new network
// namespace; the server then gives it a veth pair (host end gust<i> with
// 198.18.x.1/30, environment end eth0 with 198.18.x.2/30 and a default
// route through the host end), a small nftables table inside the
// namespace that sends loopback traffic to the host's loopback except
// the Runtime API's, and the Runtime API listener on 127.0.0.1:9001,
// created inside the namespace. Nothing outside the namespace can reach
// that listener: it is bound to the namespace's own loopback.

// runtimeAPIAddr is where a runtime in the linux sandbox finds its
// Runtime API, inside its own network namespace.
const runtimeAPIAddr = "127.0.0.1:9001"

const runtimeAPIPort = 9001

// envNetSeq spreads index allocation; a taken index (another process's,
// or one not yet released) is skipped.
var envNetSeq atomic.Uint32

func init() { envNetSeq.Store(uint32(os.Getpid()) * 7) }

// envNet is one environment's network plumbing on the host side.
type envNet struct {
	link netlink.Link // the host end; deleting it deletes the pair
	addr string       // the environment's address (eth0)
	// acquired is set while the environment counts in hostNet.
	acquired bool
}

// setupEnvNet plumbs the network namespace of process pid (the
// environment's init, cloned with CLONE_NEWNET) and, if listen is set,
// returns the Runtime API listener made inside it.
func setupEnvNet(pid int, listen bool) (_ *envNet, _ net.Listener, err error) {
	mtu, err := acquireHostNet()
	if err != nil {
		return nil, nil, err
	}
	en := &envNet{acquired: true}
	defer func() {
		if err != nil {
			err = errors.Join(err, en.release())
		}
	}()
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return en, nil, fmt.Errorf("network namespace of %d: %w", pid, err)
	}
	defer ns.Close()
	host, gw, addr, err := en.addVeth(ns, mtu)
	if err != nil {
		return en, nil, err
	}
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+host.Attrs().Name+"/route_localnet", []byte("1"), 0); err != nil {
		return en, nil, fmt.Errorf("route_localnet: %w", err)
	}
	if err := netlink.AddrAdd(host, &netlink.Addr{IPNet: &net.IPNet{IP: ipv4(gw), Mask: net.CIDRMask(30, 32)}}); err != nil {
		return en, nil, fmt.Errorf("address %s: %w", host.Attrs().Name, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return en, nil, fmt.Errorf("up %s: %w", host.Attrs().Name, err)
	}
	if err := configureNamespace(ns, gw, addr); err != nil {
		return en, nil, err
	}
	ln, err := listenIn(ns, listen)
	if err != nil {
		return en, nil, err
	}
	return en, ln, nil
}

// addVeth creates the pair under the first free index, the peer directly
// inside ns as eth0, and returns the host end, the gateway and the
// environment's address.
func (en *envNet) addVeth(ns netns.NsHandle, mtu int) (netlink.Link, netip.Addr, netip.Addr, error) {
	base := envNetRange.Addr().As4()
	for range maxEnvNets {
		i := envNetSeq.Add(1) % maxEnvNets
		v := &netlink.Veth{
			LinkAttrs:     netlink.LinkAttrs{Name: vethPrefix + strconv.Itoa(int(i)), MTU: mtu, TxQLen: -1},
			PeerName:      "eth0",
			PeerNamespace: netlink.NsFd(ns),
		}
		err := netlink.LinkAdd(v)
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if err != nil {
			return nil, netip.Addr{}, netip.Addr{}, fmt.Errorf("veth %s: %w", v.Name, err)
		}
		en.link = v
		n := uint32(base[0])<<24 | uint32(base[1])<<16 | i*4
		sub := netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
		gw := sub.Next()
		en.addr = gw.Next().String()
		return v, gw, gw.Next(), nil
	}
	return nil, netip.Addr{}, netip.Addr{}, errors.New("no free environment network")
}

// configureNamespace brings lo and eth0 up, addresses eth0, routes
// through the gateway and writes the namespace's nftables table.
func configureNamespace(ns netns.NsHandle, gw, addr netip.Addr) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in namespace: %w", err)
	}
	defer h.Close()
	for _, name := range []string{"lo", "eth0"} {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("namespace %s: %w", name, err)
		}
		if name == "eth0" {
			if err := h.AddrAdd(l, &netlink.Addr{IPNet: &net.IPNet{IP: ipv4(addr), Mask: net.CIDRMask(30, 32)}}); err != nil {
				return fmt.Errorf("namespace address: %w", err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("namespace %s up: %w", name, err)
		}
	}
	if err := h.RouteAdd(&netlink.Route{Gw: ipv4(gw)}); err != nil {
		return fmt.Errorf("namespace default route: %w", err)
	}
	return namespaceRules(int(ns), gw)
}

// namespaceRules writes the namespace's own table: connections to
// 127.0.0.0/8 go to the gateway (and so to the host's loopback), except
// TCP to the Runtime API at 127.0.0.1:9001; their loopback source is
// masqueraded to eth0's address on the way out.
func namespaceRules(nsFD int, gw netip.Addr) error {
	c, err := nftables.New(nftables.WithNetNSFd(nsFD))
	if err != nil {
		return fmt.Errorf("nftables in namespace: %w", err)
	}
	t := c.AddTable(&nftables.Table{Family: nftables.TableFamilyIPv4, Name: hostTable})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: t, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	loopback := netip.MustParsePrefix("127.0.0.0/8")
	rapi := append(append(ipPrefix(16, netip.MustParsePrefix("127.0.0.1/32")), l4proto(unix.IPPROTO_TCP)...), dport(runtimeAPIPort)...)
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: append(rapi, &expr.Verdict{Kind: expr.VerdictReturn})})
	c.AddRule(&nftables.Rule{Table: t, Chain: out, Exprs: append(ipPrefix(16, loopback), dnatTo(gw)...)})
	c.AddRule(&nftables.Rule{Table: t, Chain: post, Exprs: append(append(ifName(expr.MetaKeyOIFNAME, "eth0"), ipPrefix(12, loopback)...), &expr.Masq{})})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("nftables in namespace: %w", err)
	}
	return nil
}

// listenIn makes the Runtime API listener inside ns, from a thread that
// enters ns for the purpose, and lets loopback-sourced packets leave
// through eth0 (route_localnet, needed by namespaceRules).
func listenIn(ns netns.NsHandle, listen bool) (ln net.Listener, err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("current network namespace: %w", err)
	}
	defer orig.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter network namespace: %w", err)
	}
	defer func() {
		if rerr := netns.Set(orig); rerr != nil {
			// The thread stays locked and dies with this goroutine,
			// never serving another goroutine from the wrong namespace.
			if ln != nil {
				ln.Close()
			}
			ln, err = nil, fmt.Errorf("leave network namespace: %w", rerr)
			return
		}
		runtime.UnlockOSThread()
	}()
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/all/route_localnet", []byte("1"), 0); err != nil {
		return nil, fmt.Errorf("namespace route_localnet: %w", err)
	}
	if !listen {
		return nil, nil
	}
	ln, err = net.Listen("tcp", runtimeAPIAddr)
	if err != nil {
		return nil, fmt.Errorf("runtime api listener: %w", err)
	}
	return ln, nil
}

// release counts the environment out of the host rules. The veth pair
// is not deleted here: deleting a device waits for RCU grace periods
// under the kernel's RTNL lock (tens of milliseconds, blocking every
// other environment's set-up meanwhile). The kernel deletes it, batched
// with others, once the namespace is gone: when the environment's last
// process has exited and the Runtime API listener is closed.
func (en *envNet) release() error {
	if !en.acquired {
		return nil
	}
	en.acquired = false
	return releaseHostNet()
}
