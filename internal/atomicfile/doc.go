// Package atomicfile writes a file whole or not at all: the bytes go to a
// temporary file in the same folder, which replaces the target only once
// it is complete. os.WriteFile truncates the old file first, so a full
// disk or a crash left an empty or cut file in its place (a generated
// file losing the layout records gen checks versions against, a picture
// of zero bytes over the last good one).
package atomicfile
