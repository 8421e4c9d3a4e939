package gen

import (
	"go/types"
	"reflect"
	"strings"
)

// saveable returns "" when a value of type t survives pickle's encoding
// unchanged, else why not. An interface value is kept in a pickle.Boxed,
// which saves it with its type; inside a struct, slice or map it would be
// saved without it (pickle's Register refuses such a field).
func saveable(t types.Type, seen map[types.Type]bool) string {
	if _, ok := t.Underlying().(*types.Interface); ok {
		return "" // the dynamic value must be a registered type; saving says so if not
	}
	return saveableIn(t, seen, false)
}

// saveableIn is saveable for a value inside another (a field, an element,
// a key), where an interface cannot be boxed: loose, inside a field tagged
// `stackless:",loose"`, takes msgpack's generic types back on purpose.
func saveableIn(t types.Type, seen map[types.Type]bool, loose bool) string {
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
			tag := reflect.StructTag(u.Tag(i))
			st, _ := tag.Lookup("stackless")
			mp, _, _ := strings.Cut(tag.Get("msgpack"), ",")
			switch {
			case st == "-" || mp == "-":
				continue // not saved, on purpose (pickle's Register checks the tags)
			case !f.Exported():
				return "its field " + f.Name() + " is unexported, and only exported fields are saved"
			}
			in := seen
			if st == ",loose" && !loose {
				in = map[types.Type]bool{} // what is fine loose may not be elsewhere
			}
			if why := saveableIn(f.Type(), in, loose || st == ",loose"); why != "" {
				return "its field " + f.Name() + ": " + why
			}
		}
		return ""
	case *types.Slice:
		return saveableIn(u.Elem(), seen, loose)
	case *types.Array:
		return saveableIn(u.Elem(), seen, loose)
	case *types.Map:
		if why := saveableIn(u.Key(), seen, loose); why != "" {
			return why
		}
		return saveableIn(u.Elem(), seen, loose)
	case *types.Interface:
		if loose {
			return ""
		}
		return "it holds an interface (" + t.String() + "), which a save inside a struct, slice or map writes without its type: a restore would bring back an int as an int8 and a struct as a map (use a concrete type, or pickle.Boxed[" + t.String() + "])"
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
