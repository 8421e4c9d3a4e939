package pickle

import (
	"fmt"

	"github.com/vmihailenco/msgpack/v5"
)

// Boxed holds a value of an interface type (any, error, or another) in a
// behavior's field so that it is saved with its dynamic type: msgpack alone
// would save an interface field's value without its type, and a restored
// Point would come back as a map. Generated flow behaviors keep their live
// interface-typed locals in Boxed fields.
//
// A value is saved as typed values travel on channels (its type must be a
// built-in or registered with RegisterValue); an error as errors are (its
// message, and the registered sentinels and value types of its chain:
// see RegisterError). Boxed uses the Default registry.
type Boxed[T any] struct{ V T }

// EncodeMsgpack writes the boxed value as a typed value or error.
func (b *Boxed[T]) EncodeMsgpack(e *msgpack.Encoder) error {
	if isErrorType[T]() {
		err, _ := any(b.V).(error)
		return Default.encodeError(e, err)
	}
	return Default.encodeValue(e, any(b.V))
}

// DecodeMsgpack reads what EncodeMsgpack wrote.
func (b *Boxed[T]) DecodeMsgpack(d *msgpack.Decoder) error {
	var v any
	var err error
	if isErrorType[T]() {
		var e error
		e, err = Default.decodeError(d)
		v = e
	} else {
		v, err = Default.decodeValue(d)
	}
	if err != nil {
		return err
	}
	if v == nil {
		var zero T
		b.V = zero
		return nil
	}
	x, ok := v.(T)
	if !ok {
		return fmt.Errorf("%w: a saved %T does not fit a field of type %T", ErrCorrupt, v, b.V)
	}
	b.V = x
	return nil
}

func isErrorType[T any]() bool {
	var p *T
	_, ok := any(p).(*error)
	return ok
}
