// The one escape hatch for span lifetimes, as in swift-collections'
// InternalCollectionsUtilities: a view built from a raw pointer gets the
// lifetime of the value that owns the memory. Used by `Frame` and
// `FramePacket` (their byte views), nowhere else.

/// Returns `dependent` with a lifetime tied to a borrow of `source`.
@unsafe
@_unsafeNonescapableResult
@_alwaysEmitIntoClient
@_transparent
@_lifetime(borrow source)
func _overrideLifetime<T: ~Copyable & ~Escapable, U: ~Copyable & ~Escapable>(
    _ dependent: consuming T, borrowing source: borrowing U
) -> T {
    dependent
}

/// Returns `dependent` with a lifetime tied to an exclusive access to `source`.
@unsafe
@_unsafeNonescapableResult
@_alwaysEmitIntoClient
@_transparent
@_lifetime(&source)
func _overrideLifetime<T: ~Copyable & ~Escapable, U: ~Copyable & ~Escapable>(
    _ dependent: consuming T, mutating source: inout U
) -> T {
    dependent
}
