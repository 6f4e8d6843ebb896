import { configure, readInitialData } from '@mizan/base';
import { mount } from 'svelte';
import App from './App.svelte';
import './styles.css';

// The default client, so that the generated stores (src/gen/stores.ts) and
// the generated call functions share it. A page the server rendered would
// embed its data for initialData; index.html has none ({}).
configure({ initialData: readInitialData() });

const target = document.getElementById('app');
if (!target) throw new Error('quickstart-svelte: no #app element');
mount(App, { target });
