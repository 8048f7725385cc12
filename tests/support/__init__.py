"""What the tests share: the pinned clock, fixtures, factories, real processes, a throwaway
deployment (fleet), and the benchmark and chaos runs built on it."""
