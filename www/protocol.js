// @ts-check
// The engine worker's protocol, declared once: every request with its payload and result,
// and the events the worker posts. engine-worker.js implements it, engine.js calls it, and
// `tsc` (tests/e2e: npm run typecheck) checks both sides against these types.
//
//   page -> worker   {id, type, payload}                    (Request)
//   worker -> page   {id, ok: true, result} | {id, ok: false, error: ErrorInfo}
//                    | {event, ...}                          (WorkerMessage: WorkerEvents)
//
// Results are the core's serde structs (src/web/), so their fields have the core's names;
// tests/e2e/panels/boundary.mjs checks the keys declared here against what the core sends.

/** The WebAssembly build a worker runs (pkg/<build>/). @typedef {'webgpu'|'relaxed'|'threads'|'single'} Build */
/**
 * The build a worker runs. `gpu`: the WebGPU adapter the `webgpu` build trains on (null on the
 * CPU builds); `gpu_reason`: why a CPU build runs instead of the GPU one.
 * @typedef {{mode: 'threads'|'single', build: Build, simd: 'relaxed-simd'|'simd128', threads: number,
 *   reason: string, version: string, gpu: string|null, gpu_reason?: string}} Runtime
 */

/**
 * An error as it crosses: `kind` is the core's ErrorKind (`corrupt-data`, `bad-weights`,
 * `bad-config`, `bad-input`, `non-finite`, `cancelled`, `io`, `device`: the GPU engine's, natively and in the webgpu build) or the worker's own (`busy`,
 * `http`, `internal`); the page also sees `crashed` when the worker dies.
 * @typedef {{kind: string, message: string, file?: string}} ErrorInfo
 */

/**
 * The core's Config (src/config.rs).
 * @typedef {{preset: string, input_dim: number, classes: number, hidden: number, latent: number, steps: number, threshold: number,
 *   alpha: number, eps_r: number, eps_g: number, beta: number, y_scale: number, lr: number, lr_milestones: number[], lr_gamma: number,
 *   batch_size: number, epochs: number, prior_components: number, latent_batch: number, component_draw: string}} Config
 */

/**
 * The core's checkpoint::ModelMeta: what a weights file records of its training.
 * @typedef {{dataset: string, epochs: number, seed: number, dev_accuracy?: number, test_accuracy?: number, test_forward_accuracy?: number,
 *   threads?: number, command?: string, storage?: string, class_names?: string[]}} ModelMeta
 */
/** @typedef {{components: number, weights: number[], labels: (number|null)[]}} PriorInfo */
/** What one image shows, singular and plural (the core's data::Noun: `digit`/`digits`, `item`/`items`). @typedef {{one: string, many: string}} Noun */
/** The loaded model: the core's ModelInfo (`name`: the file it came from, or how a run in the page made it) with its classes and noun. @typedef {{name: string, config: Config, meta: ModelMeta, params: number, prior: PriorInfo|null, class_names: string[], noun: Noun}} ModelStatus */

/** The dataset the worker holds: its names and noun (null before a manifest) and the images loaded per split. @typedef {{name: string|null, title: string|null, classes: string[], noun: Noun|null, sizes: Record<string, number>}} DatasetStatus */
/**
 * What the worker says it holds: its runtime, the model, the dataset, the training run's state.
 * @typedef {{mode: 'threads'|'single', build: Build, simd: 'relaxed-simd'|'simd128', threads: number, reason: string, version: string,
 *   gpu: string|null, gpu_reason?: string, model: ModelStatus|null, dataset: DatasetStatus, training: 'idle'|'running'|'paused'|'stopping'}} Status
 */

/** @typedef {{min: number, max: number, default: number}} Bounds */
/** The core's catalog::RunBounds: how many images of each split an in-page run may use. @typedef {{train_images: Bounds, dev_images: Bounds, test_images: Bounds}} RunBounds */
/**
 * The core's catalog::DatasetOffer, from a dataset's manifest: its names, noun and split sizes, and
 * the catalog's run bounds clamped to what it has (the Train form's defaults and limits).
 * @typedef {{name: string, title: string, classes: string[], noun: Noun, splits: Record<string, number>, bounds: RunBounds}} DatasetOffer
 */
/** The core's catalog::ImageShape: every image is `rows` × `cols` pixels, `pixels` in all. @typedef {{rows: number, cols: number, pixels: number}} ImageShape */
/** The core's catalog::PresetInfo. @typedef {{name: string, label: string, in_page: boolean, needs_gpu: boolean, config: Config}} PresetInfo */
/** The core's catalog::ShippedModel: a model published with the page. @typedef {{name: string, label: string, dataset: string, url: string}} ShippedModel */
/** The core's catalog::RealBounds. @typedef {{min: number, max: number}} RealBounds */
/**
 * The core's catalog (src/catalog.rs): presets, defaults and limits, and what this site publishes (its site.json).
 * @typedef {{image: ImageShape, presets: PresetInfo[], default_preset: string,
 *   train_images: Bounds, dev_images: Bounds, test_images: Bounds, epochs: Bounds, seed: Bounds, steps: Bounds, lr: RealBounds,
 *   prior_images: number, dream_samples: number, interpolation_frames: number, map_points: number,
 *   map_perplexity: number, map_iterations: number, map_step_iterations: number,
 *   pretrained_url: string, pretrained_name: string, default_dataset: string,
 *   models: ShippedModel[], datasets: string[], title: string|null, training: boolean}} Catalog
 */

/** @typedef {{scores: number[], probs: number[], forward: number[], prediction: number, forward_prediction: number}} Classification */
/** @typedef {{steps: number, classes: number, hidden: number, label: number, winner: number, final_best: number, goodness: number[], energy: number[], z1: number[], z2: number[], prediction: number[], scores: number[]}} SettleTrace */
/** @typedef {{n: number, images: number[], latents: number[], components: number[]}} Dream */
/** @typedef {{n: number, points: number[], labels: number[]}} LatentMap */
/** A t-SNE map as it forms (the core's web::MapProgress). @typedef {{iteration: number, iterations: number, done: boolean, points: number[]}} MapProgress */
/** @typedef {{n: number, accuracy: number, error: number, forward_accuracy: number, recon_sse: number, confusion: number[][], predictions: Uint8Array}} Evaluation */
/** @typedef {{n: number, pixels: Uint8Array, labels: Uint8Array}} ImageBatch */

/** @typedef {{goodness_loss: number, head_loss: number, gen_loss: number, recon_loss: number, forward_ce: number, samples: number}} BatchStats */
/**
 * The core's run::EpochRecord: the dev evaluation after an epoch (epoch 0: before training) and the epoch's means.
 * @typedef {{epoch: number, dev_accuracy: number, dev_forward_accuracy: number, dev_recon_sse: number, goodness_loss?: number, head_loss?: number,
 *   gen_loss?: number, forward_ce?: number, batches?: number, seconds?: number, samples_per_s?: number, threads?: number, lr?: number, improved: boolean}} EpochRecord
 */
/** @typedef {{n: number, accuracy: number, error: number, forward_accuracy: number, recon_sse: number}} TestResult */
/**
 * A run's progress (the core's run::Progress).
 * @typedef {{phase: 'baseline'|'training'|'testing'|'prior'|'done', epoch: number, epochs: number, batch: number,
 *   batches_per_epoch: number, batches: BatchStats[], epoch_end: EpochRecord|null, best_epoch: number|null,
 *   best_dev_accuracy: number|null, tested: number, test_total: number, test: TestResult|null, fraction: number,
 *   samples_per_s: number|null, report: boolean}} Progress
 */
/**
 * What the worker says of a run: its progress with the worker's rate, or that it is paused.
 * @typedef {(Progress & {samples_per_s: number, threads: number}) | {phase: 'paused'}} ProgressEvent
 */
/** The result of a training run. @typedef {{stopped: boolean, history: EpochRecord[], seconds: number, samples_per_s: number, model: ModelStatus|null}} TrainResult */

/**
 * The core's run::RunRequest: unset fields take the crate's defaults.
 * @typedef {{preset?: string, dataset?: string, seed?: number, epochs?: number, train_limit?: number, dev_limit?: number, test_limit?: number,
 *   set?: Record<string, number|string>, no_test?: boolean, no_prior?: boolean}} RunRequest
 */

/** How the page starts a worker: the build it asks for, and whether the test hooks (`crash`, `memory`) answer (`?test`). @typedef {{mode?: 'auto'|Build, test?: boolean}} InitOptions */

/**
 * Every request: its payload and its result. `crash` and `memory` are test hooks: only a worker
 * started with `test` (a page opened with `?test`, as the e2e tests do) answers them.
 * @typedef {{
 *   init: {payload: InitOptions, result: Runtime},
 *   catalog: {payload: {}, result: Catalog},
 *   status: {payload: {}, result: Status},
 *   loadDataset: {payload: {name: string, splits?: Record<string, number>, run?: RunRequest}, result: {name: string, sizes: Record<string, number>}},
 *   loadWeights: {payload: {url?: string, bytes?: Uint8Array, name?: string, optional?: boolean}, result: {loaded: boolean, reason?: string, model: ModelStatus|null}},
 *   exportWeights: {payload: {half?: boolean}, result: {bytes: Uint8Array}},
 *   classify: {payload: {pixels: Float32Array}, result: Classification},
 *   settle: {payload: {pixels: Float32Array, label: number}, result: SettleTrace},
 *   offer: {payload: {name: string}, result: DatasetOffer|null},
 *   dream: {payload: {n: number, component?: number, seed: number}, result: Dream},
 *   interpolate: {payload: {frames: number, seed: number}, result: Dream},
 *   latentMap: {payload: {split: string, start: number, count: number}, result: LatentMap},
 *   mapStart: {payload: {split: string, start: number, count: number, seed?: number}, result: LatentMap},
 *   mapStep: {payload: {iterations: number}, result: MapProgress},
 *   mapDrop: {payload: {}, result: {dropped: boolean}},
 *   evaluate: {payload: {split: string, limit?: number}, result: Evaluation},
 *   images: {payload: {split: string, start: number, count: number}, result: ImageBatch},
 *   fitPrior: {payload: {split: string, limit: number}, result: ModelStatus|null},
 *   train: {payload: {request: RunRequest, from: 'scratch'|'current'}, result: TrainResult},
 *   pause: {payload: {}, result: {state: string}},
 *   resume: {payload: {}, result: {state: string}},
 *   stop: {payload: {}, result: {state: string}},
 *   memory: {payload: {}, result: {wasm_bytes: number}},
 *   crash: {payload: {}, result: {crashing: boolean}},
 * }} Requests
 */

/** A request as it crosses. @typedef {{[K in keyof Requests]: {id: number, type: K, payload: Requests[K]['payload']}}[keyof Requests]} Request */

/**
 * What the worker posts besides replies, by `event`: a run's progress, a new status, a line
 * for the status bar, and a trap (the page restarts the worker).
 * @typedef {{
 *   progress: ProgressEvent,
 *   status: {status: Status},
 *   log: {level: 'info'|'warn'|'error', message: string},
 *   fatal: {message: string},
 * }} WorkerEvents
 */

/**
 * A message of the worker: a reply to request `id`, or an event.
 * @typedef {{id: number, ok: true, result: unknown} | {id: number, ok: false, error: ErrorInfo}
 *   | {[K in keyof WorkerEvents]: {event: K} & WorkerEvents[K]}[keyof WorkerEvents]} WorkerMessage
 */

/**
 * The events of engine.js: the worker's (but `fatal`), and its own `crash` (the worker died;
 * it is restarted unless it died too often) and `restarted` (a new worker is ready).
 * @typedef {{
 *   progress: ProgressEvent,
 *   status: {status: Status},
 *   log: {level: 'info'|'warn'|'error', message: string},
 *   crash: {reason: string, willRestart: boolean},
 *   restarted: {reason: string, runtime: Runtime},
 * }} EngineEvents
 */

/** The wasm package of a build (pkg/<build>/pff.js, typed by its generated pff.d.ts). @typedef {typeof import('pff-wasm')} Wasm */

export {};
