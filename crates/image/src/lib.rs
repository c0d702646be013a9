//! berth-image: image references, a registry client, the local content store, safe
//! layer unpacking and image archives.

pub mod archive;
pub mod change;
pub mod commit;
pub mod digest;
pub mod layer;
pub mod media;
pub mod pack;
pub mod progress;
pub mod reference;
pub mod registry;
pub mod spec;
pub mod store;
mod sys;
pub mod unpack;

pub use digest::Digest;
pub use reference::Reference;
