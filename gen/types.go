package gen

import (
	"go/types"
)

// saveable returns "" when a value of type t survives pickle's encoding
// unchanged, else why not.
func saveable(t types.Type, seen map[types.Type]bool) string {
	if seen[t] {
		return ""
	}
	seen[t] = true
	if selfCoding(t) {
		return ""
	}
	switch u := t.Underlying().(type) {
	case *types.Basic:
		switch {
		case u.Kind() == types.UnsafePointer:
			return "an unsafe.Pointer cannot be saved"
		case u.Info()&types.IsComplex != 0:
			return "complex numbers are not saved by the pickle format"
		case u.Kind() == types.Uintptr:
			return "a uintptr may be an address, which cannot be saved"
		}
		return ""
	case *types.Struct:
		for i := 0; i < u.NumFields(); i++ {
			f := u.Field(i)
			if !f.Exported() {
				return "its field " + f.Name() + " is unexported, and only exported fields are saved"
			}
			if why := saveable(f.Type(), seen); why != "" {
				return "its field " + f.Name() + ": " + why
			}
		}
		return ""
	case *types.Slice:
		return saveable(u.Elem(), seen)
	case *types.Array:
		return saveable(u.Elem(), seen)
	case *types.Map:
		if why := saveable(u.Key(), seen); why != "" {
			return why
		}
		return saveable(u.Elem(), seen)
	case *types.Interface:
		return "" // the dynamic value must be a registered type; saving says so if not
	case *types.Pointer:
		return "a pointer would point at a copy after a restore"
	case *types.Chan:
		return "a Go channel cannot be saved (use a stackless channel.ID)"
	case *types.Signature:
		return "a function value cannot be saved"
	}
	return "the generator does not know how to save " + t.String()
}

// selfCoding reports whether t encodes itself (time.Time and the like).
func selfCoding(t types.Type) bool {
	for _, m := range []string{"MarshalBinary", "EncodeMsgpack", "MarshalMsgpack"} {
		for _, tt := range []types.Type{t, types.NewPointer(t)} {
			ms := types.NewMethodSet(tt)
			for i := 0; i < ms.Len(); i++ {
				if ms.At(i).Obj().Name() == m {
					return true
				}
			}
		}
	}
	return false
}
