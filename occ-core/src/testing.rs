//! What the unit tests share.

/// Implements `Versioned` for a test model with `id: u32` and
/// `version: u64`, tagged `"<id>-<version>"`.
macro_rules! versioned_by_id {
    ($model:ty) => {
        impl $crate::versioned::Versioned for $model {
            type Id = u32;
            type Version = u64;

            fn id(&self) -> &u32 {
                &self.id
            }

            fn version(&self) -> u64 {
                self.version
            }

            fn set_version(&mut self, version: u64) {
                self.version = version;
            }

            fn entity_tag_for(id: &u32, version: u64) -> $crate::entity_tag::EntityTag {
                $crate::versioned::EntityTagBuilder::strong()
                    .value(id)
                    .literal("-")
                    .value(&version)
                    .finish()
            }
        }
    };
}

pub(crate) use versioned_by_id;
