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
	initConfig    struct{}
	shell         struct{}
	shellTemplate struct{}
)

func (*shellTemplate) fits(*initConfig) bool { return false }
func (*shellTemplate) isStem() bool          { return false }

func shellsSupported() bool                               { return false }
func newShell(*shellTemplate) (*shell, error)             { return nil, errNoLinux }
func plainTemplate(string) (*shellTemplate, error)        { return nil, errNoLinux }
func stemTemplate(Stem) (*shellTemplate, error)           { return nil, errNoLinux }
func linuxStartConfig(Spec) (*initConfig, error)          { return nil, errNoLinux }
func startInit(*initConfig, Spec) (*Process, error)       { return nil, errNoLinux }
func (*shell) launch(*initConfig, Spec) (*Process, error) { return nil, errNoLinux }
func (*shell) alive() bool                                { return false }
func (*shell) discard(err error) error                    { return err }

var errShellLost = errNoLinux
