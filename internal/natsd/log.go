package natsd

import (
	"fmt"
	"log/slog"

	"github.com/nats-io/nats-server/v2/server"
)

// serverLogger routes the embedded server's printf-style log to slog.
// Notices (startup banners and the like) are debug-level noise for Gust;
// warnings and errors keep their level.
type serverLogger struct{ log *slog.Logger }

var _ server.Logger = (*serverLogger)(nil)

func (l *serverLogger) Noticef(format string, v ...any) { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Warnf(format string, v ...any)   { l.log.Warn(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Fatalf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Errorf(format string, v ...any)  { l.log.Error(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Debugf(format string, v ...any)  { l.log.Debug(fmt.Sprintf(format, v...)) }
func (l *serverLogger) Tracef(format string, v ...any)  {}
