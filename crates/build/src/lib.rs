//! `berth build`: images from a Dockerfile. [`dockerfile`] is the language, parsed without
//! I/O; [`ignore`] the context's `.dockerignore`; [`builder`] runs the stages on berth's own
//! engine (each RUN a container from the runtime core, its changes committed as a layer)
//! and store, with a cache of the steps it made.

pub mod builder;
pub mod dockerfile;
pub mod ignore;
