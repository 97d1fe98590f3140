//go:build !linux

package sandbox

import "errors"

// Init does nothing outside Linux: there is no linux sandbox to set up.
func Init() {}

var errNoLinux = errors.New("the linux sandbox needs Linux")

func startLinux(Spec) (*Process, error) {
	return nil, errors.New("start sandbox: " + errNoLinux.Error())
}

// Shells exist only in the linux sandbox.
type (
	initConfig struct{}
	shell      struct{}
)

func shellsSupported() bool                               { return false }
func newShell() (*shell, error)                           { return nil, errNoLinux }
func linuxStartConfig(Spec) (*initConfig, error)          { return nil, errNoLinux }
func startInit(*initConfig, Spec) (*Process, error)       { return nil, errNoLinux }
func (*shell) launch(*initConfig, Spec) (*Process, error) { return nil, errNoLinux }
func (*shell) alive() bool                                { return false }
func (*shell) discard(err error) error                    { return err }

var errShellLost = errNoLinux
