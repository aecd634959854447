"""Reads of stored traces, shared by the query API and the vendor read routes: the parameterised
queries of `sql/`, their parameters, the JSON shapes of their rows and the outcome writes."""
