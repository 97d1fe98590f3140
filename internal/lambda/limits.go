package lambda

// Limits AWS Lambda enforces (docs/lambda-compat.md §7, §3.2).
const (
	MinMemorySize             = 128
	MaxMemorySize             = 10240
	MinTimeout                = 1
	MaxTimeout                = 900
	MinEphemeralStorage       = 512
	MaxEphemeralStorage       = 10240
	MaxEnvironmentBytes       = 4096
	MaxDescriptionLength      = 256
	MaxHandlerLength          = 128
	MaxZippedCodeBytes        = 50 * 1024 * 1024 // 52,428,800
	MaxUnzippedCodeBytes      = 262144000
	MaxCreateRequestBytes     = 69905067 // base64 of a 50 MB zip plus its JSON
	MaxSyncPayloadBytes       = 6291456  // request, 6 MiB
	MaxSyncResponseBytes      = 6291556  // response, 6 MiB + 100 B
	MaxAsyncPayloadBytes      = 1048576
	MaxClientContextBytes     = 3583
	MaxTotalCodeBytes         = 80530636800
	DefaultAccountConcurrency = 1000
	InitTimeoutSeconds        = 10
	CPUMemoryPerCoreMB        = 1769
	MaxListFunctionsPage      = 50
	LogTailBytes              = 4096
)
