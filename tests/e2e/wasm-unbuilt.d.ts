// Stands in for pkg/threads/pff.d.ts (wasm-bindgen's types of the engine) before
// scripts/build-wasm.sh has run, so that the type check of www/ runs on a fresh clone; once the
// packages are built, tsconfig.json's `paths` finds the generated file first.
export type DatasetStore = any;
export type Model = any;
export type Run = any;
export type MapRun = any;
export const DatasetStore: any;
export const Model: any;
export const Run: any;
export const MapRun: any;
export function catalog(site?: string | null): any;
export function siteFile(): string;
export function memoryBytes(): number;
export function simdKind(): string;
export function threadCount(): number;
export function version(): string;
export function initThreadPool(n: number): Promise<any>;
export function matmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array;
export function benchMatmul(m: number, k: number, n: number, reps: number): number;
export function isThreadedBuild(): boolean;
export default function init(): Promise<any>;
