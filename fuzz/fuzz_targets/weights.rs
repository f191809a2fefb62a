//! The weights loader: safetensors, its metadata JSON (config, meta, prior, trainer, run),
//! config validation, shapes, dtypes, finiteness and the checksum; a training state resumes or
//! is refused. A file that loads writes back to a file that loads to the same model.
#![no_main]
use libfuzzer_sys::fuzz_target;
use pff::checkpoint::{Checkpoint, Storage};
use pff::run::{StoredState, TrainingRun};

fuzz_target!(|data: &[u8]| {
    if let Ok(ck) = Checkpoint::from_bytes(data) {
        let again = Checkpoint::from_bytes(&ck.to_bytes(Storage::F32).unwrap()).unwrap();
        assert_eq!(again.model, ck.model);
        if StoredState::from_bytes(data).is_ok() {
            let _ = TrainingRun::resume(data, Some(&ck));
        }
    }
});
